{#- Data-subject rights: the statements the rights engine runs, written once over the
    declared relations. `batch` is a table (request_id, guid, right_type, subject_no) of the
    requests being answered; `declared` is the list of relations with personal data, each
    {name, relation, key, via: {relation, key, subject_key} or none}, ordered so that a
    relation another one is reached through comes after it. Subject ids are compared as
    text: they were bound as parameters into `batch`, never spliced into SQL. -#}

{% macro rights_ledger_ddl(ledger) -%}
{{ adapter.dispatch('rights_ledger_ddl')(ledger) }}
{%- endmacro %}

{% macro default__rights_ledger_ddl(ledger) -%}
create table if not exists {{ ledger }} (
    request_id varchar,
    guid varchar,
    right_type varchar,
    phase varchar,
    had_data boolean,
    code varchar,
    reason varchar,
    attachments varchar,
    relations varchar,
    created_at bigint,
    finished_at bigint
)
{%- endmacro %}

{#- Erasures whose tables were purged (OPTIMIZE + VACUUM on Iceberg) since. -#}
{% macro rights_purged_ddl(purged) -%}
{{ adapter.dispatch('rights_purged_ddl')(purged) }}
{%- endmacro %}

{% macro default__rights_purged_ddl(purged) -%}
create table if not exists {{ purged }} (request_id varchar, done_at bigint)
{%- endmacro %}

{#- One statement that (re)creates the batch table from `n` bound rows of 4 parameters.
    `answered` marks requests that take no part in the procedures: ones the ledger finished
    with a final answer (200, 201: redeliveries, answered from the ledger), and ids the
    ledger knows from another subject or right type (answered with an error). A request
    that failed before runs again. -#}
{% macro rights_load_batch(batch, n, ledger) -%}
{{ adapter.dispatch('rights_load_batch')(batch, n, ledger) }}
{%- endmacro %}

{% macro default__rights_load_batch(batch, n, ledger) -%}
create or replace table {{ batch }} as
{{ rights_batch_rows(n, ledger) }}
{%- endmacro %}

{#- The batch's rows: the bound values and whether each is `answered` (see above). -#}
{% macro rights_batch_rows(n, ledger) -%}
select cast(t.request_id as varchar) as request_id, cast(t.guid as varchar) as guid,
       cast(t.right_type as varchar) as right_type, cast(t.subject_no as integer) as subject_no,
       exists (
           select 1 from {{ ledger }} as l
           where l.request_id = cast(t.request_id as varchar)
             and ((l.phase = 'finished' and l.code in ('200', '201'))
                  or l.guid <> cast(t.guid as varchar)
                  or l.right_type <> cast(t.right_type as varchar))
       ) as answered
from (values {% for i in range(n) %}(?, ?, ?, ?){% if not loop.last %}, {% endif %}{% endfor %})
    as t(request_id, guid, right_type, subject_no)
{%- endmacro %}

{#- The subjects of the batch's unanswered requests of `right_types`. -#}
{% macro rights_subjects(batch, right_types) -%}
select guid from {{ batch }} where not answered and right_type in ({% for t in right_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- Rows of `d` that belong to subjects in `subjects_sql` (a query returning guids). -#}
{% macro rights_rows_of(d, subjects_sql) -%}
{%- if d.via -%}
cast({{ adapter.quote(d.key) }} as varchar) in (
    select cast({{ adapter.quote(d.via.key) }} as varchar) from {{ d.via.relation }}
    where cast({{ adapter.quote(d.via.subject_key) }} as varchar) in ({{ subjects_sql }}))
{%- else -%}
cast({{ adapter.quote(d.key) }} as varchar) in ({{ subjects_sql }})
{%- endif -%}
{%- endmacro %}

{#- One query over every declared relation: the subjects of `right_types` in the batch that
    have at least one row anywhere. Uncorrelated IN subqueries, so engines hash-join them
    instead of scanning a relation once per batch row. -#}
{% macro rights_subjects_with_data(batch, declared, right_types) -%}
select distinct b.guid
from {{ batch }} as b
where not b.answered
  and b.right_type in ({% for t in right_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
  and (
    {%- for d in declared %}
    {% if not loop.first %}or {% endif -%}
    {%- if d.via -%}
    b.guid in (select cast({{ adapter.quote(d.via.subject_key) }} as varchar) from {{ d.via.relation }}
               where cast({{ adapter.quote(d.via.key) }} as varchar) in (select cast({{ adapter.quote(d.key) }} as varchar) from {{ d.relation }}))
    {%- else -%}
    b.guid in (select cast({{ adapter.quote(d.key) }} as varchar) from {{ d.relation }})
    {%- endif -%}
    {%- endfor %}
    {%- if not declared %} false{% endif %}
  )
{%- endmacro %}

{#- Each request of the batch with what the ledger knows of it (one row per ledger phase, or
    one row with NULLs) and whether its subject has rows anywhere (`has_data`, unanswered
    requests only): the replay check and the existence check in one query. -#}
{% macro rights_batch_state(batch, ledger, declared, right_types) -%}
select r.request_id, r.guid, l.phase, l.had_data, l.code, l.reason, l.attachments,
       r.guid in ({{ rights_subjects_with_data(batch, declared, right_types) }}) as has_data,
       l.guid as ledger_guid, l.right_type as ledger_right_type
from {{ batch }} as r
left join {{ ledger }} as l on l.request_id = r.request_id
{%- endmacro %}

{#- ERASURE / SA_WITHDRAW: one DELETE per declared relation, those reached through another
    relation first (their keys are resolved through it before it loses the rows). -#}
{% macro rights_delete(batch, declared, right_types) -%}
{%- set subjects = rights_subjects(batch, right_types) -%}
{%- for d in declared %}
delete from {{ d.relation }} where {{ rights_rows_of(d, subjects) }};
{%- endfor %}
{%- endmacro %}

{#- ACCESS: one export per declared relation, one CSV folder per subject (subject_no). -#}
{% macro rights_export(batch, declared, right_types, path) -%}
{{ adapter.dispatch('rights_export')(batch, declared, right_types, path) }}
{%- endmacro %}

{#- Purge: make deleted rows leave storage (Iceberg: OPTIMIZE + VACUUM per table). -#}
{#- `properties`: per relation, the table_properties its model configures (to restore what
    a purge changes). -#}
{% macro rights_purge(relations, properties=[]) -%}
{{ adapter.dispatch('rights_purge')(relations, properties) }}
{%- endmacro %}

{#- A query counting what the purge of `relation` left behind from before `before_epoch`
    (seconds): 0 means the erased rows are gone from storage. Empty where the engine keeps no
    history (the purge is then trusted). -#}
{% macro rights_purge_check_sql(relation, before_epoch) -%}
{{ adapter.dispatch('rights_purge_check_sql')(relation, before_epoch) }}
{%- endmacro %}

{% macro default__rights_purge_check_sql(relation, before_epoch) -%}
{%- endmacro %}

{#- The subjects erased so far (from the rights ledger), as a query returning `guid`.
    Models that read raw sources filter on it, so a rebuild from the landing zone never
    brings an erased subject back. A request answered 201 (no data yet) counts too: rows
    that arrive late for that subject are not loaded. Before the first request: empty. -#}
{% macro rights_erased_subjects() -%}
{%- set ledger = adapter.get_relation(target.database, target.schema, 'strata_rights_ledger') if execute else none -%}
{%- if ledger -%}
select guid from {{ ledger }} where phase = 'finished' and code in ('200', '201') and right_type in ('ERASURE', 'SA_WITHDRAW')
{%- else -%}
select cast(null as varchar) as guid where false
{%- endif -%}
{%- endmacro %}
