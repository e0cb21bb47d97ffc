{#- Data-subject rights: the statements the rights engine runs, written once over the
    declared relations. `batch` is a table (request_id, guid, right_type, subject_no) of the
    requests being answered; `declared` is the list of relations with personal data, each
    {name, relation, key, via: {relation, key, subject_key} or none, keys_column}, ordered
    so that a relation another one is reached through comes after it. For a relation
    reached through another, the batch table's `keys_column` holds each subject's keys as
    they were when the batch was loaded: its rows are deleted and verified by them even
    after the relation it is reached through has lost the subject's rows. Subject ids are compared as
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
    finished_at bigint,
    via_keys varchar,
    source varchar
)
{%- endmacro %}

{#- Ledgers made before a text column existed (`via_keys`, see rights_keys_text; `source`,
    where each answered request came from) get it. -#}
{% macro rights_ledger_add_column(ledger, column) -%}
{{ adapter.dispatch('rights_ledger_add_column')(ledger, column) }}
{%- endmacro %}

{% macro default__rights_ledger_add_column(ledger, column) -%}
alter table {{ ledger }} add column {{ column }} varchar
{%- endmacro %}

{#- The ledger keeps, with each started erasure, the keys the batch captured in relations
    reached through another (`via_keys`: items `<relation> chr(30) <key>` joined by
    chr(31)), so a later attempt for the subject still finds what an unfinished one left
    in such a relation after the relation it goes through lost the subject's rows. -#}
{% macro rights_keys_text(array_expr) -%}
{{ adapter.dispatch('rights_keys_text')(array_expr) }}
{%- endmacro %}

{% macro default__rights_keys_text(array_expr) -%}
array_to_string({{ array_expr }}, chr(31))
{%- endmacro %}

{% macro rights_split_keys(text_expr) -%}
{{ adapter.dispatch('rights_split_keys')(text_expr) }}
{%- endmacro %}

{% macro default__rights_split_keys(text_expr) -%}
string_split({{ text_expr }}, chr(31))
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
    (redeliveries, answered from the ledger as before: 200, 201, and a 500 not followed by
    as many operator retries, phase `retry`), and ids the ledger knows from another subject
    or right type (answered with an error). (RightsEngine::batch_state decides the same from
    the same rows: keep the two in step.) -#}
{% macro rights_load_batch(batch, n, ledger, declared=[]) -%}
{{ adapter.dispatch('rights_load_batch')(batch, n, ledger, declared) }}
{%- endmacro %}

{% macro default__rights_load_batch(batch, n, ledger, declared=[]) -%}
create or replace table {{ batch }} as
{{ rights_batch_rows(n, ledger, declared) }}
{%- endmacro %}

{#- The batch's rows: the bound values, whether each is `answered` (see above), and for each
    relation reached through another the subject's keys in it (`keys_column`, an array). -#}
{% macro rights_batch_rows(n, ledger, declared=[]) -%}
with t as (
    select cast(request_id as varchar) as request_id, cast(guid as varchar) as guid,
           cast(right_type as varchar) as right_type, cast(subject_no as integer) as subject_no
    from (values {% for i in range(n) %}(?, ?, ?, ?){% if not loop.last %}, {% endif %}{% endfor %})
        as v(request_id, guid, right_type, subject_no)
)
select t.request_id, t.guid, t.right_type, t.subject_no,
       (coalesce(a.succeeded, 0) > 0 or coalesce(a.failed, 0) > coalesce(a.retries, 0)
        or exists (
           select 1 from {{ ledger }} as l
           where l.request_id = t.request_id
             and l.phase in ('started', 'finished')
             and (coalesce(l.guid, '') <> t.guid or coalesce(l.right_type, '') <> t.right_type)
       )) as answered
       {%- for d in declared if d.via %},
       {{ d.keys_column }}.keys as {{ d.keys_column }}
       {%- endfor %}
from t
left join (
    select request_id,
           sum(case when phase = 'finished' and code in ('200', '201') then 1 else 0 end) as succeeded,
           sum(case when phase = 'finished' and code not in ('200', '201') then 1 else 0 end) as failed,
           sum(case when phase = 'retry' then 1 else 0 end) as retries
    from {{ ledger }}
    where request_id in (select request_id from t)
    group by request_id
) as a on a.request_id = t.request_id
{%- for d in declared if d.via %}
left join (
    select guid, array_agg(distinct k) as keys
    from (
        select cast({{ adapter.quote(d.via.subject_key) }} as varchar) as guid,
               cast({{ adapter.quote(d.via.key) }} as varchar) as k
        from {{ d.via.relation }}
        where cast({{ adapter.quote(d.via.subject_key) }} as varchar) in (select guid from t)
        union all
        select l.guid, substr(u.item, {{ d.name | length + 2 }}) as k
        from (
            -- The batch's subjects' rows first (OFFSET 0 keeps the filter before the
            -- unnest): splitting every key the ledger ever stored cost seconds at 200k rows.
            select guid, via_keys from {{ ledger }}
            where phase = 'started' and via_keys is not null
              and guid in (select guid from t)
            offset 0
        ) as l
        cross join unnest({{ rights_split_keys('l.via_keys') }}) as u(item)
        where starts_with(u.item, '{{ d.name }}' || chr(30))
    ) as found
    where k is not null
    group by guid
) as {{ d.keys_column }} on {{ d.keys_column }}.guid = t.guid
{%- endfor %}
{%- endmacro %}

{#- The subjects of the batch's unanswered requests of `right_types`. -#}
{% macro rights_subjects(batch, right_types) -%}
select guid from {{ batch }} where not answered and right_type in ({% for t in right_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- The keys of `d` (reached through another relation) the batch loaded for its unanswered
    subjects of `right_types`. -#}
{% macro rights_captured_keys(d, batch, right_types) -%}
select u.k from {{ batch }} as b cross join unnest(b.{{ d.keys_column }}) as u(k)
where not b.answered and b.right_type in ({% for t in right_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- Rows of `d` that belong to subjects in `subjects_sql` (a query returning guids); for a
    relation reached through another, also rows whose key is in `keys_sql` (the keys the
    batch captured). -#}
{#- TRUE when the text `text_expr` names the subject `guid_expr` as a complete JSON string
    ("<id>"): how a row of a relation declaring `raw_text` whose subject column is NULL (a
    landing line that could not be parsed) belongs to a subject. Subject ids are plain (the
    subject-id pattern allows no quote or backslash), so no JSON escaping is involved. -#}
{% macro rights_text_names(text_expr, guid_expr) -%}
coalesce(strpos({{ text_expr }}, '"' || {{ guid_expr }} || '"') > 0, false)
{%- endmacro %}

{#- The same against every id of the array `ids_array_expr` (FALSE for an empty or NULL
    array): for a row that is not in a relation yet (the write filter). -#}
{% macro rights_text_names_any(text_expr, ids_array_expr) -%}
{{ adapter.dispatch('rights_text_names_any')(text_expr, ids_array_expr) }}
{%- endmacro %}

{% macro default__rights_text_names_any(text_expr, ids_array_expr) -%}
coalesce(len(list_filter({{ ids_array_expr }}, rights_id -> strpos({{ text_expr }}, '"' || rights_id || '"') > 0)) > 0, false)
{%- endmacro %}

{#- Rows of `d` whose subject column is NULL and whose `raw_text` names a subject of
    `subjects_sql` (a query returning `guid`), by their raw text. -#}
{% macro rights_raw_rows_of(d, subjects_sql) -%}
({{ adapter.quote(d.key) }} is null and {{ adapter.quote(d.raw_text) }} in (
    select t.{{ adapter.quote(d.raw_text) }} from {{ d.relation }} as t
    cross join ({{ subjects_sql }}) as s
    where t.{{ adapter.quote(d.key) }} is null and {{ rights_text_names('t.' ~ adapter.quote(d.raw_text), 's.guid') }}))
{%- endmacro %}

{% macro rights_rows_of(d, subjects_sql, keys_sql=none) -%}
{%- if d.via -%}
(cast({{ adapter.quote(d.key) }} as varchar) in (
    select cast({{ adapter.quote(d.via.key) }} as varchar) from {{ d.via.relation }}
    where cast({{ adapter.quote(d.via.subject_key) }} as varchar) in ({{ subjects_sql }}))
 {%- if keys_sql %}
 or cast({{ adapter.quote(d.key) }} as varchar) in ({{ keys_sql }})
 {%- endif %})
{%- elif d.raw_text -%}
(cast({{ adapter.quote(d.key) }} as varchar) in ({{ subjects_sql }})
 or {{ rights_raw_rows_of(d, subjects_sql) }})
{%- else -%}
cast({{ adapter.quote(d.key) }} as varchar) in ({{ subjects_sql }})
{%- endif -%}
{%- endmacro %}

{#- One query over every declared relation: the subjects of `right_types` in the batch that
    have at least one row anywhere (the existence check before, the proof after a deletion).
    Uncorrelated IN subqueries, each scan filtered to the batch's subjects first, so engines
    hash-join a few ids instead of scanning a relation once per batch row. A relation
    reached through another is looked up both through it and by the keys the batch
    captured (after a deletion the first finds nothing: the subject's rows that led there
    are gone). -#}
{% macro rights_subjects_with_data(batch, declared, right_types) -%}
{%- set subjects = rights_subjects(batch, right_types) -%}
select distinct b.guid
from {{ batch }} as b
where not b.answered
  and b.right_type in ({% for t in right_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
  and (
    {%- for d in declared %}
    {% if not loop.first %}or {% endif -%}
    {%- if d.via -%}
    b.guid in (select cast({{ adapter.quote(d.via.subject_key) }} as varchar) from {{ d.via.relation }}
               where cast({{ adapter.quote(d.via.subject_key) }} as varchar) in ({{ subjects }})
                 and cast({{ adapter.quote(d.via.key) }} as varchar) in (select cast({{ adapter.quote(d.key) }} as varchar) from {{ d.relation }}))
    or b.guid in (select c.guid from {{ batch }} as c cross join unnest(c.{{ d.keys_column }}) as u(k)
                  where u.k in (select cast({{ adapter.quote(d.key) }} as varchar) from {{ d.relation }}))
    {%- else -%}
    b.guid in (select cast({{ adapter.quote(d.key) }} as varchar) from {{ d.relation }}
               where cast({{ adapter.quote(d.key) }} as varchar) in ({{ subjects }}))
    {%- if d.raw_text %}
    or b.guid in (select s.guid from ({{ subjects }}) as s
                  inner join {{ d.relation }} as t
                  on t.{{ adapter.quote(d.key) }} is null and {{ rights_text_names('t.' ~ adapter.quote(d.raw_text), 's.guid') }})
    {%- endif -%}
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
       l.guid as ledger_guid, l.right_type as ledger_right_type, l.finished_at
       {%- for d in declared if d.via %},
       {{ rights_keys_text('r.' ~ d.keys_column) }} as {{ d.keys_column }}
       {%- endfor %}
from {{ batch }} as r
left join {{ ledger }} as l on l.request_id = r.request_id
{%- endmacro %}

{#- ERASURE / SA_WITHDRAW: one DELETE per declared relation, those reached through another
    relation first (their keys are resolved through it before it loses the rows). -#}
{% macro rights_delete(batch, declared, right_types) -%}
{%- set subjects = rights_subjects(batch, right_types) -%}
{%- for d in declared %}
delete from {{ d.relation }} where {{ rights_rows_of(d, subjects, rights_captured_keys(d, batch, right_types) if d.via else none) }};
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

{#- The ids of subjects the ledger `ledger` holds as erased or being erased: every
    ERASURE or SA_WITHDRAW it has started, whatever its answer. -#}
{% macro rights_erased_guids(ledger) -%}
select guid from {{ ledger }}
where phase in ('started', 'finished') and right_type in ('ERASURE', 'SA_WITHDRAW') and guid is not null
{%- endmacro %}

{#- The subjects erased or being erased (from the rights ledger), as a query returning
    `guid`. Models that read raw sources filter on it, so a rebuild from the landing zone
    never brings an erased subject back. Every erasure the ledger has started counts,
    whatever its answer: one answered 201 (no data yet) keeps rows that arrive late for the
    subject out, one in progress or failed keeps a build from writing rows the erasure is
    deleting. Before the first request: empty. -#}
{% macro rights_erased_subjects() -%}
{%- set ledger = adapter.get_relation(target.database, target.schema, 'strata_rights_ledger') if execute else none -%}
{%- if ledger -%}
{{ rights_erased_guids(ledger) }}
{%- else -%}
select cast(null as varchar) as guid where false
{%- endif -%}
{%- endmacro %}

{#- TRUE when `expr` is a subject id the rights engine accepts (`rights.subject_id_pattern`):
    staging models quarantine the others, so nothing is loaded that no erasure request
    could name. -#}
{% macro rights_valid_subject_id(expr) -%}
{{ adapter.dispatch('rights_valid_subject_id')(expr) }}
{%- endmacro %}

{% macro default__rights_valid_subject_id(expr) -%}
coalesce(regexp_full_match({{ expr }}, '{{ rights_subject_id_pattern | replace("'", "''") }}'), false)
{%- endmacro %}

{#- The ledger's bookkeeping. Values are bound parameters (`?`); `rows` is how many rows of
    them a statement carries. Erasures count as done once finished with 200; a purge records
    the requests it covered in `purges`. -#}

{% macro rights_ledger_insert(ledger, rows) -%}
{{ adapter.dispatch('rights_ledger_insert')(ledger, rows) }}
{%- endmacro %}

{% macro default__rights_ledger_insert(ledger, rows) -%}
insert into {{ ledger }} (request_id, guid, right_type, phase, had_data, code, reason, attachments, relations, created_at, finished_at, via_keys, source) values
{%- for i in range(rows) %}{% if not loop.first %},{% endif %} (?, ?, ?, ?, cast(? as boolean), ?, ?, ?, ?, cast(? as bigint), cast(? as bigint), nullif(?, ''), ?){% endfor %}
{%- endmacro %}

{#- Erasures answered 200 and not purged yet, by the relations they touched. -#}
{% macro rights_pending_purge_sql(ledger, purges) -%}
{{ adapter.dispatch('rights_pending_purge_sql')(ledger, purges) }}
{%- endmacro %}

{% macro default__rights_pending_purge_sql(ledger, purges) -%}
select relations, min(finished_at), max(finished_at), count(*) from {{ ledger }} where phase = 'finished' and code = '200' and right_type in ('ERASURE', 'SA_WITHDRAW') and request_id not in (select request_id from {{ purges }}) group by relations
{%- endmacro %}

{#- Record the erasures finished by the bound time as purged (at the bound time). -#}
{% macro rights_record_purge(ledger, purges) -%}
{{ adapter.dispatch('rights_record_purge')(ledger, purges) }}
{%- endmacro %}

{% macro default__rights_record_purge(ledger, purges) -%}
insert into {{ purges }} select distinct request_id, cast(? as bigint) from {{ ledger }} where phase = 'finished' and code = '200' and right_type in ('ERASURE', 'SA_WITHDRAW') and finished_at <= cast(? as bigint) and request_id not in (select request_id from {{ purges }})
{%- endmacro %}

{#- ACCESS answers finished by the bound time whose exports are still there. -#}
{% macro rights_expired_exports_sql(ledger, purges) -%}
{{ adapter.dispatch('rights_expired_exports_sql')(ledger, purges) }}
{%- endmacro %}

{% macro default__rights_expired_exports_sql(ledger, purges) -%}
select request_id, attachments from {{ ledger }} where phase = 'finished' and code = '200' and right_type = 'ACCESS' and finished_at <= cast(? as bigint) and request_id not in (select request_id from {{ purges }})
{%- endmacro %}

{#- Record `rows` requests (request_id, time) as purged. -#}
{% macro rights_record_purged(purges, rows) -%}
{{ adapter.dispatch('rights_record_purged')(purges, rows) }}
{%- endmacro %}

{% macro default__rights_record_purged(purges, rows) -%}
insert into {{ purges }} values
{%- for i in range(rows) %}{% if not loop.first %},{% endif %} (?, cast(? as bigint)){% endfor %}
{%- endmacro %}

{#- What the ledger holds of one request (the bound request_id), for an operator's retry. -#}
{% macro rights_ledger_request_sql(ledger) -%}
select guid, right_type, phase, code, created_at from {{ ledger }} where request_id = ?
{%- endmacro %}

{#- Erasure enforced at write time. Every write of a relation that declares personal data
    (`d`: {name, key, via}) leaves out the rows of subjects the ledger holds as erased or
    being erased, in the statement that writes them: a model that reads landing data
    without a filter, a snapshot, a seed or a build that computed its rows before an
    erasure cannot bring a subject back. -#}

{#- The keys of `d`'s rows that belong to erased subjects: the subject ids; for a relation
    reached through another (`d.via`: {relation, key, subject_key}), the keys the relation it
    goes through holds for them, and the keys erasures captured there for any relation
    reached the same way (`d.via_names`: a relation declared after an erasure is covered by
    what was captured for its siblings). -#}
{% macro rights_erased_keys(d, ledger) -%}
{%- if d.via -%}
select cast({{ adapter.quote(d.via.key) }} as varchar) from {{ d.via.relation }}
where cast({{ adapter.quote(d.via.subject_key) }} as varchar) in ({{ rights_erased_guids(ledger) }}) and {{ adapter.quote(d.via.key) }} is not null
union all
select substr(u.item, strpos(u.item, chr(30)) + 1) from (
    select via_keys from {{ ledger }}
    where phase = 'started' and right_type in ('ERASURE', 'SA_WITHDRAW') and via_keys is not null
) as l cross join unnest({{ rights_split_keys('l.via_keys') }}) as u(item)
where substr(u.item, 1, strpos(u.item, chr(30)) - 1) in ({% for n in d.via_names %}'{{ n }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- else -%}
{{ rights_erased_guids(ledger) }}
{%- endif -%}
{%- endmacro %}

{#- TRUE unless `key_expr` (a row's key in `d`) belongs to an erased subject; a NULL key
    belongs to no one and is kept. -#}
{% macro rights_not_erased(d, key_expr, ledger, raw_expr=none) -%}
coalesce(cast({{ key_expr }} as varchar) not in ({{ rights_erased_keys(d, ledger) }}), true)
{%- if d.raw_text and raw_expr %}
and not coalesce({{ key_expr }} is null and {{ rights_text_names_any(raw_expr, "(select array_agg(guid) from (" ~ rights_erased_guids(ledger) ~ ") as erased_ids)") }}, false)
{%- endif -%}
{%- endmacro %}

{#- The rows `sql` gives, without erased subjects' (the query a declared model is built from). -#}
{% macro rights_write_filter(sql, d, ledger) -%}
select * from (
{{ sql }}
) as strata_subject_rows
where {{ rights_not_erased(d, 'strata_subject_rows.' ~ adapter.quote(d.key), ledger, ('strata_subject_rows.' ~ adapter.quote(d.raw_text)) if d.raw_text else none) }}
{%- endmacro %}

{#- Remove erased subjects' rows from `relation` (a declared seed, loaded beside its target
    and swapped in after). -#}
{% macro rights_delete_erased(relation, d, ledger) -%}
delete from {{ relation }} where not ({{ rights_not_erased(d, adapter.quote(d.key), ledger, adapter.quote(d.raw_text) if d.raw_text else none) }})
{%- endmacro %}
