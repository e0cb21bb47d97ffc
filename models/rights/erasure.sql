{#- ERASURE and SA_WITHDRAW: delete the batch's subjects from every relation that declares
    personal data (meta.personal_data). A new table is covered by its declaration, not by
    editing this file. Relations reached through another one (silver_message_daily via
    the user's chats in bronze_chat_events) are deleted before it.
    bronze_quarantined_events also keeps lines whose user_id could not be read; those that
    name a subject as a complete JSON string ("<id>") are the subject's too and are deleted
    here, with the rule the staging models use to keep them out of later loads
    (erased_subject_line in macros/erasure.sql). -#}
{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}

{{ rights_delete(rights.batch, rights.declared, rights.right_types) }}
{%- for d in rights.declared if d.name == 'bronze_quarantined_events' %}
delete from {{ d.relation }}
where user_id is null
  and {{ contains_any_json_string('raw', "(select array_agg(guid) from (" ~ rights_subjects(rights.batch, rights.right_types) ~ ") as erased_ids)") }};
{%- endfor %}
