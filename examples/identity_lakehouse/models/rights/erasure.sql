{#- ERASURE and SA_WITHDRAW (a DSAR): delete the user's rows from every relation that
    declares personal data: bronze and silver events, the quarantine, the identity edges
    and the identity_resolution rows of the user's whole component. Bronze reads exclude
    the user from then on (macros/tombstones.sql). -#}
{{ config(materialized='procedure', right_types=['ERASURE', 'SA_WITHDRAW']) }}

{{ rights_delete(rights.batch, rights.declared, rights.right_types) }}
