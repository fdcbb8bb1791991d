"""The import engine, for any record type: read CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) and XLSX files
row by row, guess the column mapping, check every row (dry run), and import in chunks.

A record type plugs in with an `ImportAdapter` (customers: kehu/customers/importing.py) that knows its
fields, header aliases, presets (Salesforce, HubSpot) and how to check, match and write one chunk.

Exactly-once import, resumable: each chunk of rows is written in one transaction together with its
`ImportRow` outcomes, its audit entry (one per chunk, summarising counts, not one per row) and the job's
checkpoint (`processed_rows`). A worker killed midway loses at most the uncommitted chunk, and `resume`
continues from the checkpoint. Before writing, a chunk locks the job row and checks that the checkpoint is
still where it started, so two workers on the same job cannot both write a chunk.
"""

from __future__ import annotations

import abc
import codecs
import contextlib
import csv
import hashlib
import io
import json
import operator
import os
import queue
import re
import sqlite3
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, models, router, transaction
from django.db.models import F, Lookup, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import audit
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.import_models import ImportJob, ImportRow
from kehu.core.permissions import Policy, register_policy
from kehu.core.services import require

# Rows per transaction: each commit waits for the disk (a fifth of a 1,000-row chunk's time on a busy
# machine); 5,000 rows keep the memory of a chunk small (a few MB) and the progress bar moving.
CHUNK_SIZE = 5000
MAX_UPLOAD_BYTES = getattr(settings, "KEHU_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
MAX_COLUMNS = 200
DRY_RUN_MAX_LISTED = 10_000  # bad rows kept in the dry-run result; the error file has them all
FORMATS = ("csv", "xlsx")
Status = ImportJob.Status
Outcome = ImportRow.Outcome
RESTARTABLE = (Status.UPLOADED, Status.MAPPED, Status.READY)
RESUMABLE = (Status.RUNNING, Status.FAILED, Status.CANCELLED)
# Characters a spreadsheet treats as the start of a formula (CSV injection); see safe_cell().
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Adapters ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: Any
    aliases: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    columns: dict[str, str]  # header as the other system writes it -> field name


@dataclass
class RowResult:
    outcome: str
    record_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


@dataclass
class PendingRow:
    row_number: int
    cells: list[str]
    values: dict[str, str]  # field name -> the cell's text
    fingerprint: str
    prepared: Any = None  # what the adapter's prepare() made of the row ahead of its chunk, if anything


class ImportAdapter(abc.ABC):
    """What a record type tells the engine. Subclasses set the attributes and implement `process_chunk`."""

    key: str = ""
    model: type = object
    label: Any = ""
    fields: tuple[FieldSpec, ...] = ()
    presets: tuple[Preset, ...] = ()

    def require_import(self, actor: Any) -> None:
        require(actor, "create", self.model)

    def begin(self, *, actor: Any, job: ImportJob, dry_run: bool) -> Any:
        """Per-run state (lookups loaded once: owners, tags, keys seen so far)."""
        return {}

    def prepare(self, *, actor: Any, job: ImportJob, rows: list[PendingRow], state: Any) -> None:
        """Optional: work on a chunk's rows that needs neither the database nor the other chunks (checking
        and normalising the cells, say), stored in each row's `prepared` for `process_chunk`. A real run
        calls it for chunk N+1 in a worker thread while chunk N is written (see `_prepared_chunks`): it
        must only read `state`, and any database access there fails (the chunk is then prepared by
        `process_chunk` itself). `process_chunk` must give the same results with or without it."""
        return

    def independent(self, *, rows: list[PendingRow], state: Any) -> bool:
        """Whether `rows` may be checked and written before the chunk written last is committed (its COMMIT
        then runs on another connection meanwhile, see `_Pipeline`): True only if nothing those rows read
        (matches, the records they would update) can be something that chunk wrote, and writing them takes
        no lock that a request holding the job's lock may wait for (an audit entry: the chain's head). The
        engine itself makes sure no row repeats one of that chunk. The default, False, keeps every chunk
        after the previous one's commit."""
        return False

    @abc.abstractmethod
    def process_chunk(
        self, *, actor: Any, job: ImportJob, rows: list[PendingRow], state: Any, dry_run: bool
    ) -> list[RowResult]:
        """Check, match and (unless `dry_run`) write the rows; one result per row, in order."""

    def live_ids(self, *, actor: Any, ids: list[int]) -> set[int]:
        """Of `ids`, the records that still exist (an imported row whose record was deleted may come back)."""
        return set(
            self.model.objects.filter(
                any_of("pk", ids), organization_id=actor.organization_id, deleted_at__isnull=True
            ).values_list("pk", flat=True)
        )

    def fields_for(self, organization_id: int | None) -> tuple[FieldSpec, ...]:
        """The fields a column can be mapped to in one organisation: `fields`, plus what the organisation
        defines for itself (custom fields, say). Mapping, checks and the wizard all ask this."""
        return self.fields

    def field_names(self, organization_id: int | None = None) -> list[str]:
        return [f.name for f in self.fields_for(organization_id)]


_adapters: dict[str, ImportAdapter] = {}


def register_adapter(adapter: ImportAdapter) -> None:
    _adapters[adapter.key] = adapter


def adapter_for(record_type: str) -> ImportAdapter:
    try:
        return _adapters[record_type]
    except KeyError:
        message = _("There is no import for this kind of record.")
        raise ValidationFailed(message, fields={"record_type": [message]}) from None


def adapters() -> list[ImportAdapter]:
    return list(_adapters.values())


# Reading files --------------------------------------------------------------------------------------


def detect_encoding(stream: Any) -> str:
    """UTF-8 with a BOM, else UTF-8 if every byte decodes as UTF-8, else GB18030 (a superset of GBK and
    GB2312, what Excel in China saves as "CSV")."""
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while block := stream.read(1 << 20):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    finally:
        stream.seek(0)
    return "utf-8"


def detect_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person would type: 13800138000.0 is a phone, not a float."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _open_text(job: ImportJob) -> Any:
    binary = default_storage.open(job.file, "rb")
    return io.TextIOWrapper(binary, encoding=job.encoding or "utf-8", newline="", errors="replace")


def iter_file_rows(job: ImportJob) -> Iterator[list[str]]:
    """Every row of the file, the header first, as lists of text cells; streams, never loads the file."""
    if job.file_format == "xlsx":
        from openpyxl import load_workbook

        with default_storage.open(job.file, "rb") as binary:
            workbook = load_workbook(binary, read_only=True, data_only=True)
            try:
                sheet = workbook.worksheets[0]
                for row in sheet.iter_rows(values_only=True):
                    yield [cell_text(v) for v in row[:MAX_COLUMNS]]
            finally:
                workbook.close()
        return
    with _open_text(job) as text:
        for row in csv.reader(text, delimiter=job.delimiter or ","):
            yield [cell.strip() for cell in row[:MAX_COLUMNS]]


def iter_data_rows(job: ImportJob, *, start: int = 0) -> Iterator[tuple[int, list[str]]]:
    """(row number as the spreadsheet shows it, cells) of the data rows after the first `start` ones."""
    rows = iter_file_rows(job)
    next(rows, None)  # the header
    for index, cells in enumerate(rows):
        if index >= start:
            yield index + 2, cells


def count_data_rows(job: ImportJob) -> int:
    if job.file_format == "csv":  # the rows as the reader splits them, without making their cells
        with _open_text(job) as text:
            return max(0, sum(1 for _ in csv.reader(text, delimiter=job.delimiter or ",")) - 1)
    return sum(1 for _ in iter_data_rows(job))


def _clean_header(value: str) -> str:
    value = unicodedata.normalize("NFKC", value or "").strip().lower()
    return re.sub(r"[\s_\-.:：()（）/*]+", "", value)


def guess_preset(adapter: ImportAdapter, headers: list[str]) -> Preset | None:
    """The preset whose columns the headers match best (at least three of them)."""
    cleaned = {_clean_header(h) for h in headers}
    best, best_hits = None, 2
    for preset in adapter.presets:
        hits = sum(1 for column in preset.columns if _clean_header(column) in cleaned)
        if hits > best_hits:
            best, best_hits = preset, hits
    return best


def guess_mapping(
    adapter: ImportAdapter,
    headers: list[str],
    preset: Preset | None = None,
    fields: tuple[FieldSpec, ...] | None = None,
) -> dict[str, str]:
    """{column index: field} from the headers: a preset's exact columns first, then the fields' aliases
    (Chinese and English; `fields` defaults to the adapter's static ones, pass `fields_for(organization)`
    to include an organisation's own). Each field is mapped at most once; unrecognised columns are left out."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    if preset is not None:
        by_header = {_clean_header(h): name for h, name in preset.columns.items()}
        for index, header in enumerate(headers):
            name = by_header.get(_clean_header(header))
            if name and name not in used:
                mapping[str(index)] = name
                used.add(name)
    aliases = {}
    for spec in fields if fields is not None else adapter.fields:
        for alias in (spec.name, str(spec.label), *spec.aliases):
            aliases.setdefault(_clean_header(alias), spec.name)
    for index, header in enumerate(headers):
        if str(index) in mapping:
            continue
        name = aliases.get(_clean_header(header))
        if name and name not in used:
            mapping[str(index)] = name
            used.add(name)
    return mapping


# One encoder for every row (json.dumps with options builds a new one per call). The text it makes must
# never change: stored fingerprints of earlier imports are compared with new rows' ones.
_fingerprint_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def fingerprint(values: dict[str, str]) -> str:
    payload = _fingerprint_json(sorted((k, v) for k, v in values.items() if v))
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def unescape_cell(value: str) -> str:
    """Undo safe_cell(): a file exported by Kehu and re-imported keeps its values."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula (=, +, -, @) is prefixed with ' (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def pending_rows(job: ImportJob, rows: list[tuple[int, list[str]]]) -> list[PendingRow]:
    mapping = {int(k): v for k, v in job.mapping.items()}
    pending = []
    for row_number, cells in rows:
        width = len(cells)
        values = {
            name: (unescape_cell(cells[i]) if cells[i][:1] == "'" else cells[i]) if i < width else ""
            for i, name in mapping.items()
        }
        pending.append(PendingRow(row_number, cells, values, fingerprint(values)))
    return pending


def _chunks(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Fast look-ups and inserts ----------------------------------------------------------------------------------


class _AnyOf(Lookup):
    """`column = ANY(%s)` with the values as ONE array parameter on PostgreSQL; `IN (%s, ...)` elsewhere."""

    lookup_name = "any_of"  # used directly (any_of()), never registered on a field
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} IN ({', '.join(['%s'] * len(self.rhs))})", [*lhs_params, *self.rhs]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if all(type(v) is str for v in self.rhs):  # text: one literal, not the driver's element-wise list dump
            return f"{lhs} = ANY(%s::text[])", [*lhs_params, pg_text_array(self.rhs)]
        return f"{lhs} = ANY(%s)", [*lhs_params, self.rhs]


def pg_text_array(values: list[str]) -> str:
    """A text[] literal ('{"a","b"}'): COPY takes it as the column's text, faster than the driver's
    list adaptation (which was a tenth of a bulk import's time); any_of() sends text keys this way too."""
    if not values:
        return "{}"
    body = '","'.join(values)
    if "\\" in body or body.count('"') != 2 * (len(values) - 1):  # a value holds a quote or a backslash
        body = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return '{"' + body + '"}'


def any_of(field_name: str, values: Any) -> Any:
    """A filter: `field_name` is one of `values` (a non-empty collection). What `field__in=values` does, but a
    chunk's thousands of keys go to PostgreSQL as one array: an `IN` list of 5,000 parameters cost more to
    build and to bind client-side (Django, then the driver's query splitting) than the query itself."""
    values = list(values)
    if not values:
        return models.Q(pk__in=[])
    return _AnyOf(F(field_name), values)


def _converter(model_field: Any, connection: Any) -> Any:
    if isinstance(model_field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(model_field, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(model_field, models.JSONField):
        return lambda value: model_field.get_db_prep_save(value, connection)
    return None


@dataclass(frozen=True)
class _ExtraColumn:
    """A column the model does not declare (customers' name_grams, made by raw SQL), for insert_rows."""

    column: str

    @property
    def attname(self) -> str:
        return self.column

    def get_default(self) -> Any:
        return None


def insert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    returning: bool = False,
    extra_columns: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> list[int]:
    """INSERT many rows given as {attname: value} (missing columns take `defaults`, else the field's
    default), in multi-row statements; with `returning`, the new primary keys in the order of `rows`.
    `extra_columns` names columns outside the model that every row gives a value for. `defaults` holds
    what all the rows share (organisation, author, timestamps): not repeated in every row's dict.

    What bulk_create does, without building a model instance per row: at 100,000 rows, instances and
    their per-field preparation were most of an import's time. Callers validate the values first (the
    adapter's clean_row applies the same normalisation and limits as the model's clean()).
    """
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    fields += [_ExtraColumn(name) for name in extra_columns]
    shared = defaults or {}
    if connection.vendor == "postgresql":
        return _insert_copy(connection, model, fields, rows, returning, shared)
    plan = []
    for f in fields:
        convert = _converter(f, connection)
        default = shared[f.attname] if f.attname in shared else f.get_default()
        if convert is not None and default is not None:
            default = convert(default)  # once per call, not once per row
        plan.append((f.attname, convert, default, {}))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    # SQLite >= 3.32 takes 32,766 parameters (Django assumes 999); PostgreSQL 65,535.
    sqlite_limit = 30_000 if sqlite3.sqlite_version_info >= (3, 32) else 999
    limit = sqlite_limit if connection.vendor == "sqlite" else 60_000
    batch = max(1, min(CHUNK_SIZE, limit // len(fields)))
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    suffix = f" RETURNING {quote(model._meta.pk.column)}" if returning else ""
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            params: list[Any] = []
            for row in part:
                for name, convert, default, memo in plan:
                    if name not in row:
                        params.append(default)
                        continue
                    value = row[name]
                    if convert is not None and value is not None:
                        if isinstance(value, datetime):  # the chunk's rows share their timestamps
                            if value not in memo:
                                memo[value] = convert(value)
                            value = memo[value]
                        else:
                            value = convert(value)
                    params.append(value)
            table = quote(model._meta.db_table)
            # Only quoted model metadata and placeholders are in the SQL text; every value is a parameter.
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(part))}{suffix}"  # noqa: S608
            cursor.execute(sql, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _insert_copy(
    connection: Any, model: Any, fields: list[Any], rows: list[dict[str, Any]], returning: bool, shared: dict
) -> list[int]:
    """PostgreSQL: COPY, with the new ids taken from the table's sequence first (COPY cannot return them).
    A multi-row VALUES list spent most of its time in the driver's client-side parameter handling."""
    quote = connection.ops.quote_name
    table = model._meta.db_table
    # Each row is the defaults overlaid with its own values, read out in column order by one itemgetter
    # (C code): a Python loop over 40 columns per row was a tenth of an import's time.
    defaults = {f.attname: f.get_default() for f in fields} | shared
    # The rows share their timestamps (created_at, updated_at: one `now` per chunk). The driver's datetime
    # dumper cost more than the rest of a customer row (~4.5 of ~8.5 us per row); COPY's text format takes
    # the ISO text, which PostgreSQL parses as it would the dumped value, so it is made once per call.
    defaults = {k: v.isoformat() if isinstance(v, (datetime, date)) else v for k, v in defaults.items()}
    names = [f.attname for f in fields]
    read = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    offset = 1 if returning else 0  # the id column comes first
    json_columns = [(i + offset, f.encoder) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    with connection.cursor() as cursor:
        ids: list[int] = []
        columns = [quote(f.column) for f in fields]
        if returning:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [quote(table), model._meta.pk.column, len(rows)],
            )
            ids = [r[0] for r in cursor.fetchall()]
            columns.insert(0, quote(model._meta.pk.column))
        with cursor.cursor.copy(f"COPY {quote(table)} ({', '.join(columns)}) FROM STDIN") as copy:
            for position, row in enumerate(rows):
                values = [ids[position], *read(defaults | row)] if returning else list(read(defaults | row))
                for i, encoder in json_columns:
                    value = values[i]
                    if value is not None:
                        # Most JSON cells are empty ({} of a record without custom values, no data).
                        values[i] = json.dumps(value, cls=encoder) if value else ("{}" if value == {} else "[]")
                copy.write_row(values)
    return ids


# Selectors ----------------------------------------------------------------------------------------------


def import_job_list_for(*, actor: Any) -> QuerySet[ImportJob]:
    return ImportJob.objects.visible_to(actor).select_related("owner")


def import_job_get_for(*, actor: Any, pk: Any) -> ImportJob:
    try:
        return import_job_list_for(actor=actor).get(pk=int(pk))
    except (ValueError, TypeError, ImportJob.DoesNotExist) as exc:
        raise NotFound() from exc


def import_job_bad_rows(*, job: ImportJob, limit: int = 500) -> list[ImportRow]:
    return list(
        ImportRow.objects.filter(organization_id=job.organization_id, job=job, outcome=Outcome.ERROR).order_by(
            "row_number"
        )[:limit]
    )


# Services -----------------------------------------------------------------------------------------------


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field_name: [message]})


def _check_job(actor: Any, job: ImportJob) -> ImportAdapter:
    require(actor, "view", job)
    adapter = adapter_for(job.record_type)
    adapter.require_import(actor)
    return adapter


@transaction.atomic
def import_job_create(*, actor: Any, record_type: str, upload: Any) -> ImportJob:
    """Store the uploaded file, detect its format, encoding and headers, and guess the mapping."""
    adapter = adapter_for(record_type)
    adapter.require_import(actor)
    require(actor, "create", ImportJob)
    name = os.path.basename(getattr(upload, "name", "") or "import.csv")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in FORMATS:
        raise _fail("file", _("Upload a CSV or an Excel (.xlsx) file."))
    size = getattr(upload, "size", None) or 0
    if size > MAX_UPLOAD_BYTES:
        raise _fail("file", _("The file is larger than %(mb)d MB.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
    if size == 0:
        raise _fail("file", _("The file is empty."))
    stored = default_storage.save(f"imports/{actor.organization_id}/{uuid.uuid4().hex}.{extension}", upload)
    job = ImportJob(
        organization_id=actor.organization_id,
        owner=actor,
        created_by=actor,
        updated_by=actor,
        record_type=record_type,
        file=stored,
        original_name=name[:255],
        file_format=extension,
    )
    try:
        if extension == "csv":
            with default_storage.open(stored, "rb") as binary:
                job.encoding = detect_encoding(binary)
                first_line = io.TextIOWrapper(binary, encoding=job.encoding, newline="").readline()
            job.delimiter = detect_delimiter(first_line)
        job.headers = next(iter_file_rows(job), [])
    except Exception as exc:  # a corrupt workbook or binary junk: say so, never a 500
        default_storage.delete(stored)
        raise _fail("file", _("This file cannot be read as CSV or Excel.")) from exc
    if not any(job.headers):
        default_storage.delete(stored)
        raise _fail("file", _("The first row must hold the column names."))
    preset = guess_preset(adapter, job.headers)
    job.preset = preset.key if preset else ""
    job.mapping = guess_mapping(adapter, job.headers, preset, adapter.fields_for(actor.organization_id))
    job.save()
    audit.record(
        actor=actor,
        action="import.create",
        target=job,
        changes={"record_type": record_type, "file": job.original_name, "format": extension},
    )
    return job


def _check_mapping(adapter: ImportAdapter, job: ImportJob, mapping: dict[str, Any]) -> dict[str, str]:
    known = set(adapter.field_names(job.organization_id))
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, name in (mapping or {}).items():
        if not name:
            continue
        try:
            index = int(column)
        except (TypeError, ValueError):
            raise _fail("mapping", _("Columns are numbered from 0.")) from None
        if not 0 <= index < len(job.headers):
            raise _fail("mapping", _("The file has no column %(n)s.") % {"n": column})
        if name not in known:
            raise _fail("mapping", _("Unknown field: %(name)s") % {"name": name})
        if name in seen:
            raise _fail(
                "mapping",
                _("The field %(name)s is mapped to two columns: %(a)s and %(b)s.")
                % {"name": name, "a": job.headers[int(seen[name])], "b": job.headers[index]},
            )
        seen[name] = str(index)
        clean[str(index)] = name
    return clean


def _require_mapped(adapter: ImportAdapter, job: ImportJob) -> None:
    mapped = set(job.mapping.values())
    missing = [str(f.label) for f in adapter.fields_for(job.organization_id) if f.required and f.name not in mapped]
    if missing:
        raise _fail("mapping", _("Map a column to: %(fields)s") % {"fields": ", ".join(missing)})


@transaction.atomic
def import_job_update(
    *,
    actor: Any,
    job: ImportJob,
    mapping: dict[str, Any] | None = None,
    policy: str | None = None,
    preset: str | None = None,
) -> ImportJob:
    """Change the mapping (or apply a preset's) and the duplicate policy, before the import runs."""
    adapter = _check_job(actor, job)
    require(actor, "edit", job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in RESTARTABLE:
        raise _fail("status", _("This import has already run; upload the file again to start over."))
    changes: dict[str, Any] = {}
    if preset is not None:
        chosen = next((p for p in adapter.presets if p.key == preset), None) if preset else None
        if preset and chosen is None:
            raise _fail("preset", _("Unknown preset."))
        job.preset = preset
        if mapping is None:
            mapping = guess_mapping(adapter, job.headers, chosen, adapter.fields_for(job.organization_id))
        changes["preset"] = preset
    if mapping is not None:
        job.mapping = _check_mapping(adapter, job, mapping)
        changes["mapping"] = job.mapping
    if policy is not None:
        if policy not in ImportJob.Policy.values:
            raise _fail("policy", _("Choose skip, update or create."))
        job.policy = policy
        changes["policy"] = policy
    job.status = Status.MAPPED
    job.dry_run = {}
    job.updated_by, job.updated_at, job.version = actor, timezone.now(), job.version + 1
    job.save()
    audit.record(actor=actor, action="import.update", target=job, changes=changes)
    return job


def _enqueue(job: ImportJob, mode: str) -> None:
    transaction.on_commit(lambda: import_job_task.delay(job.pk, mode))


@transaction.atomic
def import_job_dry_run(*, actor: Any, job: ImportJob) -> ImportJob:
    """Check every row in the background: counts to create/update/skip and every bad row; writes nothing."""
    adapter = _check_job(actor, job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in RESTARTABLE:
        raise _fail("status", _("This import has already run."))
    _require_mapped(adapter, job)
    job.status, job.processed_rows, job.dry_run, job.message = Status.VALIDATING, 0, {}, ""
    job.save(update_fields=["status", "processed_rows", "dry_run", "message"])
    _enqueue(job, "dry_run")
    return job


@transaction.atomic
def import_job_start(*, actor: Any, job: ImportJob) -> ImportJob:
    adapter = _check_job(actor, job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in RESTARTABLE:
        raise _fail("status", _("This import has already run; use resume to continue it."))
    _require_mapped(adapter, job)
    job.status, job.processed_rows, job.message = Status.RUNNING, 0, ""
    job.created_count = job.updated_count = job.skipped_count = job.error_count = 0
    job.started_at, job.finished_at = timezone.now(), None
    job.save()
    audit.record(actor=actor, action="import.run", target=job, changes={"policy": job.policy, "mapping": job.mapping})
    _enqueue(job, "run")
    return job


@transaction.atomic
def import_job_resume(*, actor: Any, job: ImportJob, background: bool = True) -> ImportJob:
    """Continue a job that failed, was cancelled or whose worker died, from its checkpoint."""
    _check_job(actor, job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in RESUMABLE:
        raise _fail("status", _("Only an import that stopped before the end can be resumed."))
    job.status, job.message, job.finished_at = Status.RUNNING, "", None
    job.save(update_fields=["status", "message", "finished_at"])
    audit.record(actor=actor, action="import.resume", target=job, changes={"from_row": job.processed_rows})
    if background:
        _enqueue(job, "run")
    return job


@transaction.atomic
def import_job_cancel(*, actor: Any, job: ImportJob) -> ImportJob:
    """Stop after the chunk in progress; what was imported stays (resume continues)."""
    require(actor, "view", job)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status in (Status.DONE, Status.CANCELLED):
        raise _fail("status", _("This import has already finished."))
    if job.status == Status.VALIDATING:
        # Stopping a check: back to the mapping. Its progress is no import checkpoint, so it is cleared
        # (else a later resume would skip rows that were only checked).
        job.status, job.processed_rows = Status.MAPPED, 0
    else:
        job.status, job.finished_at = Status.CANCELLED, timezone.now()
    job.save(update_fields=["status", "processed_rows", "finished_at"])
    audit.record(actor=actor, action="import.cancel", target=job, changes={"at_row": job.processed_rows})
    return job


# Processing -----------------------------------------------------------------------------------------------


class _Stop(Exception):
    """Another worker owns the job, or it was cancelled: stop quietly."""


def _already_imported(actor: Any, adapter: ImportAdapter, job: ImportJob, rows: list[PendingRow]) -> dict[str, int]:
    """Fingerprint -> record id for rows this organisation already imported into a live record."""
    found = dict(
        ImportRow.objects.filter(
            any_of("fingerprint", {r.fingerprint for r in rows}),
            organization_id=job.organization_id,
            outcome__in=(Outcome.CREATED, Outcome.UPDATED),
            job__record_type=job.record_type,
        ).values_list("fingerprint", "record_id")
    )
    if not found:
        return {}
    live = adapter.live_ids(actor=actor, ids=[pk for pk in found.values() if pk])
    return {fp: pk for fp, pk in found.items() if pk in live}


def _evaluate(
    actor: Any,
    adapter: ImportAdapter,
    job: ImportJob,
    rows: list[PendingRow],
    state: Any,
    dry_run: bool,
    seen_fingerprints: dict[str, int],
) -> list[RowResult]:
    """Results for `rows`: blank rows and rows already imported are settled here, the rest by the adapter."""
    results: list[RowResult | None] = [None] * len(rows)
    previous = _already_imported(actor, adapter, job, rows)
    todo, positions = [], []
    for i, row in enumerate(rows):
        if not any(row.values.values()):
            results[i] = RowResult(Outcome.SKIPPED, message=_("Empty row."))
        elif row.fingerprint in previous:
            results[i] = RowResult(Outcome.SKIPPED, record_id=previous[row.fingerprint], message=_("Already imported."))
        elif row.fingerprint in seen_fingerprints:
            results[i] = RowResult(
                Outcome.SKIPPED, message=_("Same as row %(row)d.") % {"row": seen_fingerprints[row.fingerprint]}
            )
        else:
            seen_fingerprints[row.fingerprint] = row.row_number
            todo.append(row)
            positions.append(i)
    for i, result in zip(
        positions, adapter.process_chunk(actor=actor, job=job, rows=todo, state=state, dry_run=dry_run), strict=True
    ):
        results[i] = result
    return [r for r in results if r is not None]


def error_text(errors: dict[str, str]) -> str:
    return "; ".join(f"{name}: {message}" for name, message in errors.items())


def _dry_run(actor: Any, adapter: ImportAdapter, job: ImportJob) -> None:
    state = adapter.begin(actor=actor, job=job, dry_run=True)
    counts = {Outcome.CREATED: 0, Outcome.UPDATED: 0, Outcome.SKIPPED: 0, Outcome.ERROR: 0}
    bad: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    processed = 0
    for chunk in _chunks(iter_data_rows(job), CHUNK_SIZE):
        rows = pending_rows(job, chunk)
        for row, result in zip(rows, _evaluate(actor, adapter, job, rows, state, True, seen), strict=True):
            counts[result.outcome] += 1
            if result.outcome == Outcome.ERROR and len(bad) < DRY_RUN_MAX_LISTED:
                bad.append({"row": row.row_number, "fields": result.errors, "message": error_text(result.errors)})
        processed += len(chunk)
        current = ImportJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if current != Status.VALIDATING:
            return  # cancelled meanwhile
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=processed)
    result = {str(k): v for k, v in counts.items()}
    result["bad_rows"] = bad
    result["bad_rows_truncated"] = counts[Outcome.ERROR] > len(bad)
    ImportJob.objects.filter(pk=job.pk, status=Status.VALIDATING).update(
        status=Status.READY, dry_run=result, processed_rows=processed, total_rows=processed
    )


def _lock_job(job: ImportJob, position: int) -> ImportJob:
    """The job row, locked until the chunk's transaction ends, if it is still running from `position`."""
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status != Status.RUNNING or locked.processed_rows != position:
        raise _Stop()
    return locked


def _run_chunk(
    actor: Any,
    adapter: ImportAdapter,
    job: ImportJob,
    chunk: list[tuple[int, list[str]]],
    position: int,
    state: Any,
    seen: dict[str, int],
    rows: list[PendingRow] | None = None,
    pipe: _Pipeline | None = None,
) -> ImportJob:
    """Check and write one chunk (`rows`: its PendingRows if already made, prepared) in one transaction.

    With `pipe` (PostgreSQL, a run of its own) the chunk's COMMIT is left to run in the background, and
    the next chunk, if `independent` of this one, is read and written on the other connection meanwhile:
    it takes the job's lock (and checks the checkpoint) only at its end, once this one has committed."""
    if pipe is not None:
        if pipe.in_flight is not None and not (
            rows is not None
            and pipe.in_flight.fingerprints.isdisjoint(row.fingerprint for row in rows)
            and adapter.independent(rows=rows, state=state)
        ):
            pipe.wait()  # this chunk must see the previous one: as if there were one connection
        pipe.take_turn()
    ahead = pipe is not None and pipe.in_flight is not None  # the previous chunk is still committing
    connection = transaction.get_connection()
    own_transaction = not connection.in_atomic_block  # else a caller's transaction: its commit is not ours
    with contextlib.ExitStack() as block:
        block.enter_context(transaction.atomic())
        if own_transaction and connection.vendor == "postgresql":
            # The chunk's COMMIT does not wait for its WAL to reach the disk (it is flushed within a fraction
            # of a second). Safe for this transaction: everything it writes (records, ImportRows, the audit
            # entry, the checkpoint) commits or is lost together, and only if the database server itself
            # crashes; a lost chunk is then simply not imported yet and resume writes it again. WAL is flushed
            # in order, so any later synchronous commit (the job's "done", a user's edit of an imported
            # customer, the next audit entry chained to this chunk's) makes this one durable first: what
            # survives is always a prefix, never a later chunk without an earlier one. Local to the
            # transaction: nothing else on the connection changes.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        if ahead:
            # The committing chunk holds the job row's lock: read it without waiting (its mapping and policy
            # do not change while it runs), and stop early if it was cancelled.
            locked = ImportJob.objects.get(pk=job.pk)
            if locked.status != Status.RUNNING:
                raise _Stop()
        else:
            locked = _lock_job(job, position)
        if rows is None or locked.mapping != job.mapping:  # none yet, or made with another mapping
            rows = pending_rows(locked, chunk)
        results = _evaluate(actor, adapter, locked, rows, state, False, seen)
        if ahead:
            assert pipe is not None
            # The previous chunk's COMMIT must have succeeded (else its error is raised here and this chunk
            # rolls back), and the checkpoint must be this chunk's start (else another worker took the job
            # over, or it was cancelled: this chunk rolls back). So chunks commit in order, each only after
            # the one before it. Until here the chunk took no lock another import or a cancel holds while
            # waiting for the job's (the adapter's `independent` sees to it); the ImportRows (unique per job
            # and row) and the audit entry come after, under the job's lock, as without `pipe`.
            pipe.wait()
            locked = _lock_job(job, position)
        outcomes = []
        counts = {Outcome.CREATED: 0, Outcome.UPDATED: 0, Outcome.SKIPPED: 0, Outcome.ERROR: 0}
        for row, result in zip(rows, results, strict=True):
            counts[result.outcome] += 1
            outcomes.append(
                {
                    "row_number": row.row_number,
                    "fingerprint": row.fingerprint,
                    "outcome": str(result.outcome),
                    "record_id": result.record_id,
                    "message": error_text(result.errors) if result.errors else result.message,
                    "data": row.cells if result.outcome == Outcome.ERROR else None,
                }
            )
        insert_rows(ImportRow, outcomes, defaults={"organization_id": locked.organization_id, "job_id": locked.pk})
        locked.processed_rows = position + len(chunk)
        locked.created_count += counts[Outcome.CREATED]
        locked.updated_count += counts[Outcome.UPDATED]
        locked.skipped_count += counts[Outcome.SKIPPED]
        locked.error_count += counts[Outcome.ERROR]
        locked.save(update_fields=["processed_rows", "created_count", "updated_count", "skipped_count", "error_count"])
        # One audit entry per chunk summarising it; per-row entries would make a 100,000-row import
        # write 100,000 chained entries (and be 10x slower). The rows themselves are in ImportRow.
        audit.record(
            actor=actor,
            action=f"{adapter.key}.import",
            target=locked,
            changes={
                "rows": f"{chunk[0][0]}-{chunk[-1][0]}",
                "created": counts[Outcome.CREATED],
                "updated": counts[Outcome.UPDATED],
                "skipped": counts[Outcome.SKIPPED],
                "errors": counts[Outcome.ERROR],
            },
        )
        if pipe is not None and own_transaction:
            pipe.commit_later(block.pop_all(), {row.fingerprint for row in rows})
    return locked


# Pipelined commits (PostgreSQL) -------------------------------------------------------------------------
# Of PostgreSQL's work on a chunk, a third is its COMMIT (the deferred foreign-key checks of every new row),
# during which the writing thread used to wait. With two connections used in turn, chunk N commits on one
# while chunk N+1 is matched and written on the other. What keeps the guarantees:
# - commits stay in chunk order: chunk N+1 takes the job's lock and checks the checkpoint only after chunk
#   N's COMMIT succeeded, so it commits only after it, and never if it failed (its error fails the job;
#   resume starts again at chunk N);
# - chunk N+1 reads nothing chunk N wrote: it goes ahead only if no row repeats one of chunk N (the
#   engine checks the fingerprints) and the adapter finds it `independent` (no match key in common, chunk
#   N updated no existing record); otherwise it waits for chunk N's COMMIT first, as with one connection.
#   So the outcomes are the same whatever the timing.
PIPELINE_COMMITS = True


class _InFlight:
    """A chunk's transaction whose COMMIT runs in a background thread; Django's side of it (its atomic
    block, on_commit callbacks) is finished in the writing thread by `_Pipeline.wait`."""

    def __init__(self, wrapper: Any, block: contextlib.ExitStack, fingerprints: set[str], commit: Future) -> None:
        self.wrapper, self.block, self.fingerprints, self.commit = wrapper, block, fingerprints, commit


class _Pipeline:
    """The writing thread's two connections to the import's database, used in turn chunk by chunk, and the
    thread that runs a chunk's COMMIT. `connections[alias]` in the writing thread is the chunk's connection;
    `close()` puts the thread's own one back and closes the other (`_run` calls it on every way out)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.own = connections[alias]
        self.other = connections.create_connection(alias)
        self.current = self.own
        self.in_flight: _InFlight | None = None
        self.committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-commit")

    @staticmethod
    def wanted(alias: str) -> bool:
        """Only for a run on PostgreSQL in its own transactions (not inside a caller's, as tests are)."""
        connection = connections[alias]
        return PIPELINE_COMMITS and connection.vendor == "postgresql" and not connection.in_atomic_block

    def take_turn(self) -> None:
        """Make the writing thread's connection one with no COMMIT in flight."""
        if self.in_flight is not None and self.in_flight.wrapper is self.current:
            self.current = self.other if self.current is self.own else self.own
            connections[self.alias] = self.current

    def commit_later(self, block: contextlib.ExitStack, fingerprints: set[str]) -> None:
        """Start the COMMIT of the chunk whose atomic block is `block` (popped from its `with`)."""
        assert self.in_flight is None
        raw = self.current.connection  # psycopg's connection: thread-safe, and it releases the GIL while it waits
        self.in_flight = _InFlight(self.current, block, fingerprints, self.committer.submit(raw.commit))

    def wait(self) -> None:
        """Wait for the COMMIT in flight and finish its atomic block; raise its error (nothing committed)."""
        in_flight, self.in_flight = self.in_flight, None
        if in_flight is None:
            return
        connections[self.alias] = in_flight.wrapper  # the block ends on its own connection
        try:
            try:
                with in_flight.wrapper.wrap_database_errors:  # the driver's error as Django's (IntegrityError)
                    in_flight.commit.result()
            except BaseException as exc:
                if not in_flight.block.__exit__(type(exc), exc, exc.__traceback__):
                    raise
            else:
                in_flight.block.close()  # COMMIT again is a no-op; runs the on_commit callbacks
        finally:
            connections[self.alias] = self.current

    def close(self, failing: bool = False) -> None:
        try:
            try:
                self.wait()
            except Exception:
                if not failing:
                    raise
        finally:
            self.committer.shutdown()
            connections[self.alias] = self.own
            self.other.close()


# A real run reads, maps and prepares chunk N+1 in a worker thread while this thread writes chunk N: the
# database's work on a chunk (COPY, index upkeep, COMMIT) and Python's work on the next one overlap
# (psycopg and sqlite3 release the GIL while they wait or run the statement; PostgreSQL is another process).
# Everything that reads or writes the database stays here, in chunk order, in one transaction per chunk.
PREPARE_AHEAD = True


class _DatabaseInWorker(Exception):
    """The adapter's prepare() touched the database from the worker thread."""


def _prepare(actor: Any, adapter: ImportAdapter, job: ImportJob, rows: list[PendingRow], state: Any) -> None:
    """adapter.prepare() in the worker thread, with its database connections blocked: a prepare that needs
    the database (it would see another transaction's data) leaves the chunk unprepared instead."""
    tripped: list[str] = []

    def block(execute: Any, sql: str, *args: Any) -> Any:
        tripped.append(sql)
        raise _DatabaseInWorker(sql)

    with contextlib.ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(block))
        with contextlib.suppress(_DatabaseInWorker):
            adapter.prepare(actor=actor, job=job, rows=rows, state=state)
    if tripped:
        for row in rows:
            row.prepared = None
        connections.close_all()  # this thread's connections, opened for nothing


def _prepared_chunks(
    actor: Any, adapter: ImportAdapter, job: ImportJob, state: Any, start: int
) -> Iterator[tuple[list[tuple[int, list[str]]], list[PendingRow]]]:
    """(chunk, its PendingRows, prepared) for the data rows after the first `start`, read one chunk ahead by
    a worker thread: it prepares the next chunk while the caller works on the one it was handed last (two
    chunks in memory). What the worker raises is raised here, in order."""
    if not PREPARE_AHEAD:
        for chunk in _chunks(iter_data_rows(job, start=start), CHUNK_SIZE):
            yield chunk, pending_rows(job, chunk)
        return
    handoff: queue.Queue[Any] = queue.Queue(maxsize=1)
    ahead = threading.Semaphore(1)  # released when the caller takes a chunk: the worker may read the next
    stop = threading.Event()
    done = object()
    language, zone = translation.get_language(), timezone.get_current_timezone()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with translation.override(language), timezone.override(zone):
                for chunk in _chunks(iter_data_rows(job, start=start), CHUNK_SIZE):
                    while not ahead.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    rows = pending_rows(job, chunk)
                    _prepare(actor, adapter, job, rows, state)
                    if not hand((chunk, rows)):
                        return
            hand(done)
        except BaseException as exc:  # handed to the main thread, which raises it
            hand(exc)

    worker = threading.Thread(target=work, name=f"import-{job.pk}-prepare", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            ahead.release()
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            handoff.get_nowait()  # a worker blocked handing over sees `stop` within 0.1 s
        worker.join()


def _run(actor: Any, adapter: ImportAdapter, job: ImportJob) -> None:
    if job.total_rows is None:
        job.total_rows = count_data_rows(job)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
    state = adapter.begin(actor=actor, job=job, dry_run=False)
    seen: dict[str, int] = {}
    position = job.processed_rows
    alias = router.db_for_write(ImportJob)
    pipe = _Pipeline(alias) if _Pipeline.wanted(alias) else None
    try:
        with contextlib.closing(_prepared_chunks(actor, adapter, job, state, position)) as chunks:
            for chunk, rows in chunks:
                job = _run_chunk(actor, adapter, job, chunk, position, state, seen, rows, pipe)
                position = job.processed_rows
    except _Stop:
        if pipe is not None:
            pipe.close()  # the chunk before still commits (or its error fails the job)
        return
    except BaseException:
        if pipe is not None:
            pipe.close(failing=True)  # the exception on its way is the one reported
        raise
    if pipe is not None:
        pipe.close()  # the last chunk's COMMIT is done (or its error raised) before the job is
    error_file = write_error_report(job) if job.error_count else ""
    ImportJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.DONE, finished_at=timezone.now(), error_file=error_file, total_rows=position
    )


def process_import(job_id: int, mode: str) -> None:
    """The body of the background task; also what `kehu import_resume` runs in the foreground."""
    job = ImportJob.objects.select_related("owner").get(pk=job_id)
    actor = job.owner
    adapter = adapter_for(job.record_type)
    expected = Status.VALIDATING if mode == "dry_run" else Status.RUNNING
    if job.status != expected:
        return
    try:
        if actor is None or not actor.is_active:
            raise PermissionDenied()
        adapter.require_import(actor)
        if mode == "dry_run":
            _dry_run(actor, adapter, job)
        else:
            _run(actor, adapter, job)
    except Exception as exc:
        # The checkpoint is committed with each chunk: a failed job resumes from the last good chunk.
        failed = Status.MAPPED if mode == "dry_run" else Status.FAILED
        ImportJob.objects.filter(pk=job.pk, status=expected).update(
            status=failed, message=str(exc)[:2000] or exc.__class__.__name__, finished_at=timezone.now()
        )
        raise


@shared_task(name="kehu.imports.process", acks_late=True)
def import_job_task(job_id: int, mode: str) -> None:
    process_import(job_id, mode)


# Error reports and exports ---------------------------------------------------------------------------------


_FORMULA_START = frozenset(FORMULA_PREFIXES)  # each prefix is one character
CSV_BATCH_ROWS = 1000


def safe_row(row: list[Any]) -> list[Any]:
    """safe_cell() of every cell, inlined: an export calls it for every cell of every row."""
    return [("'" + v) if isinstance(v, str) and v[:1] in _FORMULA_START else v for v in row]


def csv_stream(header: list[str], rows: Iterator[list[Any]]) -> Iterator[str]:
    """CSV text with a UTF-8 BOM (Excel in China opens it right), formula-like cells neutralised.

    Rows are written in batches into one buffer and yielded as one piece per batch: a piece per row cost
    more than writing it (a generator step and a response write each)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(safe_row(header))
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(safe_row(row))
        if len(batch) >= CSV_BATCH_ROWS:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue()


def xlsx_file(header: list[str], rows: Iterator[list[Any]], *, title: str = "Sheet1") -> Any:
    """An XLSX written row by row (openpyxl write-only) to a temporary file, rewound, to be streamed."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(safe_row(header))
    for row in rows:
        sheet.append(safe_row(row))
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the caller streams and closes it
    workbook.save(handle)
    handle.seek(0)
    return handle


def _error_rows(job: ImportJob) -> Iterator[list[Any]]:
    width = len(job.headers)
    last = 0
    while True:
        batch = list(
            ImportRow.objects.filter(
                organization_id=job.organization_id, job=job, outcome=Outcome.ERROR, row_number__gt=last
            )
            .order_by("row_number")
            .values_list("row_number", "data", "message")[:CHUNK_SIZE]
        )
        if not batch:
            return
        for row_number, data, message in batch:
            cells = list(data or [])
            cells += [""] * (width - len(cells))
            yield [*cells[:width], message]
            last = row_number


def write_error_report(job: ImportJob) -> str:
    """The bad rows as the file came (same format), plus an "error" column: fix them and import again."""
    header = [*job.headers, str(gettext_lazy("error"))]
    name = f"imports/{job.organization_id}/{uuid.uuid4().hex}-errors.{job.file_format}"
    if job.file_format == "xlsx":
        with xlsx_file(header, _error_rows(job), title="errors") as handle:
            return default_storage.save(name, File(handle))
    content = "".join(csv_stream(header, _error_rows(job))).encode("utf-8")
    return default_storage.save(name, File(io.BytesIO(content)))


def import_job_error_report(*, actor: Any, job: ImportJob) -> tuple[Any, str]:
    """(open file, download name) of the job's bad rows; built now if the job has none stored yet."""
    require(actor, "view", job)
    if not job.error_file:
        if not ImportRow.objects.filter(organization_id=job.organization_id, job=job, outcome=Outcome.ERROR).exists():
            raise NotFound(_("This import has no bad rows."))
        job.error_file = write_error_report(job)
        ImportJob.objects.filter(pk=job.pk).update(error_file=job.error_file)
    stem = job.original_name.rsplit(".", 1)[0]
    return default_storage.open(job.error_file, "rb"), f"{stem}-errors.{job.file_format}"


# Permissions --------------------------------------------------------------------------------------------


class ImportJobPolicy(Policy):
    """Every member may upload (the record type's adapter then asks for `create` on that type); a job is
    its uploader's, and an organisation administrator (platform `administer`) may see and stop any."""

    module = "platform"

    def can(self, actor: Any, action: str, target: Any) -> bool:
        grant = actor.grant_for(self.module)
        if "view" not in grant.actions:
            return False
        if isinstance(target, ImportJob):
            if target.organization_id != actor.organization_id or target.deleted_at is not None:
                return False
            return target.owner_id == actor.pk or "administer" in grant.actions
        return True


register_policy(ImportJob, ImportJobPolicy())
