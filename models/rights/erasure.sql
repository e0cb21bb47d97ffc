{#- ERASURE and SA_WITHDRAW: delete the batch's subjects from every relation that declares
    personal data (meta.personal_data). A new table is covered by its declaration, not by
    editing this file. Relations reached through another one (silver_message_daily via
    the user's chats in bronze_chat_events) are deleted before it. bronze_quarantined_events
    declares `raw_text: raw`: its lines whose user_id could not be read but that name a
    subject as a complete JSON string ("<id>") are the subject's too, deleted here and kept
    out of later loads (erased_subject_line in macros/erasure.sql) by the same rule. -#}
{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}

{{ rights_delete(rights.batch, rights.declared, rights.right_types) }}
