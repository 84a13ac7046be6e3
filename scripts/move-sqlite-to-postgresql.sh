#!/usr/bin/env bash
# Moves drec's statistics from its embedded SQLite store to PostgreSQL, keeping every number.
# Run with --help for how to use it; docs/data-model.md describes both stores.
#
# Why it exists: drec on SQLite is one process on one machine; to run several replicas an
# operator moves to PostgreSQL, and the counters, times, actors, days, traffic classes and the
# remembered event ids (so that a registry's retry after the move still counts once) must arrive
# unchanged. drec has no export of its own; the two schemas hold the same tables and columns, so
# this copies table by table with nothing but Debian's sqlite3 and psql:
#
#   * Each SQLite file is read by one sqlite3 process inside one exclusive transaction: a
#     consistent snapshot, and a drec that still has the file open makes it fail ("database is
#     locked") instead of writing events that would be left behind.
#   * sqlite3 writes one psql script to a pipe: `\copy <table> (<columns>) FROM STDIN` followed by
#     the rows as CSV and `\.`, then a check of the rows PostgreSQL received against the count in
#     the same snapshot. psql runs every registry's tables in ONE transaction (BEGIN ... COMMIT),
#     after taking drec's migration lock and the tables' locks and checking that the target is at
#     the schema version this script knows and empty. Any error, a count that differs, or input
#     that ends early (no COMMIT arrives) leaves the target as it was.
#   * CSV NULL versus empty string: sqlite3 prints NULL as its `.nullvalue` (set to nothing) and
#     always quotes an empty string (""); COPY's CSV format reads an unquoted empty field as its
#     NULL (also set to nothing, explicitly) and a quoted one as an empty string. So absent times
#     stay NULL and the '' of classes.tag and classes.day stays ''.
#   * Booleans are 0/1 in SQLite, which PostgreSQL reads as boolean input; repositories.actors, a
#     JSON array text in SQLite, becomes a PostgreSQL array literal built in the SELECT (each
#     element double-quoted, `\` and `"` escaped, in array order).
set -euo pipefail

# The schema versions this script knows: SQLite's PRAGMA user_version
# (src/store/sqlite/sqlite_schema.cpp) and drec_schema.version (src/store/postgresql/pg_schema.cpp).
# A newer drec with another schema needs this script updated with it.
readonly SQLITE_VERSION=4
readonly POSTGRESQL_VERSION=1
readonly TABLES=(repositories tags digests digest_parents actors days total_days classes event_ids)

me="${0##*/}"

usage() {
  cat <<EOF
Usage: $me [--all-registries | --registries LIST] SQLITE_DB POSTGRESQL_URI [SCHEMA]

Moves drec's statistics from the SQLite store SQLITE_DB (storage.sqlite.path) into the
PostgreSQL database POSTGRESQL_URI, schema SCHEMA (storage.postgresql.schema, default drec):
every table, event ids included (a registry's retry after the move still counts once), in one
transaction. Nothing is changed on the SQLite side.

Other registries (drec's \`registries\` setting) keep their statistics in files beside
SQLITE_DB: drec@R.db for registry R (<stem>@R<extension> of SQLITE_DB's name). Each moves into
schema SCHEMA@R. By default every such file found is moved (--all-registries); --registries
LIST (comma-separated, empty for none) moves only those named.

Steps:
  1. Stop drec on SQLite (every drec using SQLITE_DB). The registries keep their events
     meanwhile and deliver them once drec answers again. This script refuses to read a file
     another process has open.
  2. Create the target: start drec once on PostgreSQL with the same \`registries\`, until it is
     ready (it creates and migrates its schemas at start-up), then stop it:
       drec --storage-backend postgresql --storage-postgresql-uri POSTGRESQL_URI \\
            [--storage-postgresql-schema SCHEMA] [--registries R1,R2] ...
  3. Run this script. It refuses (and changes nothing) unless each SQLite file is at schema
     version $SQLITE_VERSION (PRAGMA user_version) and each target schema exists at drec's
     PostgreSQL schema version $POSTGRESQL_VERSION (drec_schema.version) with every statistics table empty.
  4. Start drec (one or several replicas) on PostgreSQL.

It prints the rows moved per schema and table. Needs sqlite3 and psql (Debian: sqlite3,
postgresql-client); libpq's environment (PGPASSWORD, PGSSLMODE, ...) applies to psql.
EOF
}

die() {
  printf '%s: %s\n' "$me" "$*" >&2
  exit 1
}

# --- Arguments -----------------------------------------------------------------------------

registries_mode=all
registries_list=""
positional=()
while (($#)); do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --all-registries) registries_mode=all ;;
    --registries)
      (($# >= 2)) || die "--registries needs a comma-separated list (empty for none)"
      registries_mode=list
      registries_list="$2"
      shift
      ;;
    --registries=*)
      registries_mode=list
      registries_list="${1#*=}"
      ;;
    --)
      shift
      positional+=("$@")
      break
      ;;
    -*) die "unknown option $1 (--help for usage)" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
if ((${#positional[@]} < 2 || ${#positional[@]} > 3)); then
  usage >&2
  exit 2
fi
sqlite_db="${positional[0]}"
uri="${positional[1]}"
schema="${positional[2]:-drec}"

command -v sqlite3 >/dev/null || die "sqlite3 not found (Debian: apt-get install sqlite3)"
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"

is_registry_name() { [[ "$1" =~ ^[a-z0-9][a-z0-9._-]{0,62}$ ]]; }

# drec's rule for storage.postgresql.schema (1 to 63 bytes, not pg_...); line breaks would also
# break the psql script this writes.
check_schema_name() {
  local LC_ALL=C # ${#1} in bytes
  if [[ -z "$1" || "${#1}" -gt 63 || "$1" == pg_* || "$1" == *$'\n'* || "$1" == *$'\r'* ]]; then
    die "schema $(printf '%q' "$1") is not one drec can use (1 to 63 bytes, not starting with pg_)"
  fi
}
check_schema_name "$schema"

# --- The SQLite files and their target schemas ---------------------------------------------

[[ -f "$sqlite_db" ]] || die "$sqlite_db: no such file (the SQLite store, storage.sqlite.path)"
# sqlite3 takes a name starting with - for an option, and one starting with file: for a URI.
[[ "$sqlite_db" == /* ]] || sqlite_db="./$sqlite_db"
dir="${sqlite_db%/*}"
base="${sqlite_db##*/}"
# std::filesystem's stem and extension, as drec names the other registries' files
# (src/app/main.cpp SqlitePathOf): the extension starts at the last dot, unless that is the first
# character of the name.
if [[ "${base:1}" == *.* ]]; then
  stem="${base%.*}"
  ext=".${base##*.}"
else
  stem="$base"
  ext=""
fi

files=("$sqlite_db")
schemas=("$schema")
labels=(default)
add_registry() { # registry name, file
  is_registry_name "$1" || die "$1 is not a registry name (lowercase letters, digits, . _ -)"
  check_schema_name "$schema@$1"
  files+=("$2")
  schemas+=("$schema@$1")
  labels+=("$1")
}
if [[ "$registries_mode" == all ]]; then
  shopt -s dotglob # a name may start with a dot
  for path in "$dir"/*; do
    name="${path##*/}"
    [[ -f "$path" && "$name" == "$stem@"*"$ext" ]] || continue
    registry="${name#"$stem@"}"
    registry="${registry%"$ext"}"
    # Without an extension, SQLite's own files (drec@R-wal) also match.
    [[ -z "$ext" && "$registry" =~ -(wal|shm|journal)$ ]] && continue
    if ! is_registry_name "$registry"; then
      printf '%s: note: %s is not a registry'"'"'s file (%s is no registry name); not moved\n' \
        "$me" "$path" "$registry" >&2
      continue
    fi
    add_registry "$registry" "$path"
  done
else
  IFS=, read -r -a wanted <<<"$registries_list"
  for registry in "${wanted[@]}"; do
    [[ -n "$registry" ]] || continue
    path="$dir/$stem@$registry$ext"
    [[ -f "$path" ]] || die "$path: no such file (registry $registry's SQLite store)"
    add_registry "$registry" "$path"
  done
fi

# sqlite3 without ~/.sqliterc, stopping at the first error.
sqlite() { sqlite3 -init /dev/null -batch -bail "$@"; }

# The statements that open a file for the move: exclusive, so that a drec still using it (it
# keeps its connection open in WAL mode) makes this fail at once rather than change it later.
# A file this user cannot write is read without the lock: the check is then the operator's.
lock_statements() { # file
  local file="$1" parent="${1%/*}"
  if [[ -w "$file" && -w "$parent" ]]; then
    printf '%s\n' '.output /dev/null' 'PRAGMA locking_mode = EXCLUSIVE;' '.output' \
      'BEGIN EXCLUSIVE;'
  else
    printf '%s\n' 'BEGIN;'
  fi
}

for i in "${!files[@]}"; do
  file="${files[$i]}"
  [[ -w "$file" && -w "${file%/*}" ]] ||
    printf '%s: note: %s is read-only here, so this cannot tell whether drec still uses it; make sure it is stopped\n' \
      "$me" "$file" >&2
  if ! version=$( { lock_statements "$file"; printf '%s\n' 'PRAGMA user_version;' 'ROLLBACK;'; } |
    sqlite "$file" 2>&1); then
    if [[ "$version" == *"database is locked"* ]]; then
      die "$file is in use (database is locked): stop drec (every process using the file) first"
    fi
    die "$file: cannot read it: $version"
  fi
  if [[ ! "$version" =~ ^[0-9]+$ || "$version" -eq 0 ]]; then
    die "$file: not a drec database (PRAGMA user_version is ${version:-empty})"
  elif ((version < SQLITE_VERSION)); then
    die "$file: SQLite schema version (PRAGMA user_version) $version is older than the" \
      "$SQLITE_VERSION this script moves: start this release's drec on it once (it migrates" \
      "the file at start-up), stop it, and run this again"
  elif ((version > SQLITE_VERSION)); then
    die "$file: SQLite schema version (PRAGMA user_version) $version is newer than the" \
      "$SQLITE_VERSION this script moves: use the script of the drec release that wrote it"
  fi
done

# --- The PostgreSQL side -------------------------------------------------------------------

export PGCLIENTENCODING=UTF8 # SQLite's text is UTF-8
psql_vars=()
for i in "${!schemas[@]}"; do
  psql_vars+=(-v "s$i=${schemas[$i]}")
done
run_psql() { # psql on the target, the script on stdin; quiet, unaligned, errors without context
  psql -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=default -v SHOW_CONTEXT=never \
    "${psql_vars[@]}" -d "$uri" -f -
}

table_list=$(IFS=, && printf '%s' "${TABLES[*]}")
# Temporary functions of the move's session. drec_move_ready(schema): takes drec's migration lock
# of the schema (src/store/postgresql/pg_schema.cpp, so no drec migrates it meanwhile), checks the
# version, locks every statistics table against writers until the transaction ends, and checks
# that they are empty. drec_move_check(table, rows, rows holding NUL): the rows COPY put into the
# table (of the schema on search_path) are the rows SQLite has; sqlite3 prints text as C strings,
# so a value with a NUL character would arrive cut short (PostgreSQL's text cannot hold it).
prelude() {
  cat <<SQL
SET client_min_messages = warning;
BEGIN;
CREATE FUNCTION pg_temp.drec_move_ready(target text) RETURNS void LANGUAGE plpgsql AS \$f\$
DECLARE
  version integer;
  t text;
  nonempty boolean;
  how text := 'start drec once on PostgreSQL with this storage.postgresql.schema and the same '
    'registries (it creates and migrates its schemas at start-up), then stop it and run this again';
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('drec-migrate:' || target, 0));
  IF to_regnamespace(quote_ident(target)) IS NULL THEN
    RAISE EXCEPTION 'schema "%" does not exist', target USING HINT = how;
  END IF;
  IF to_regclass(format('%I.drec_schema', target)) IS NULL THEN
    RAISE EXCEPTION 'schema "%" is not drec''s: it has no table drec_schema', target
      USING HINT = how;
  END IF;
  EXECUTE format('SELECT max(version) FROM %I.drec_schema', target) INTO version;
  IF version IS DISTINCT FROM $POSTGRESQL_VERSION THEN
    RAISE EXCEPTION 'schema "%" is at drec schema version %, this script moves into version $POSTGRESQL_VERSION only',
      target, coalesce(version::text, 'none')
      USING HINT = CASE WHEN coalesce(version, 0) < $POSTGRESQL_VERSION THEN how
        ELSE 'use the script of the drec release that made the schema' END;
  END IF;
  FOREACH t IN ARRAY string_to_array('$table_list', ',') LOOP
    EXECUTE format('LOCK TABLE %I.%I IN EXCLUSIVE MODE', target, t);
    EXECUTE format('SELECT EXISTS (SELECT FROM %I.%I)', target, t) INTO nonempty;
    IF nonempty THEN
      RAISE EXCEPTION 'table "%"."%" is not empty: this script moves into empty tables only', target, t
        USING HINT = 'a drec on PostgreSQL already took events there, or the move ran before; '
          'nothing was changed';
    END IF;
  END LOOP;
END
\$f\$;
CREATE FUNCTION pg_temp.drec_move_check(t text, expected bigint, with_nul bigint) RETURNS text
LANGUAGE plpgsql AS \$f\$
DECLARE
  copied bigint;
BEGIN
  IF with_nul > 0 THEN
    RAISE EXCEPTION '% rows of SQLite table % hold a NUL character, which PostgreSQL text cannot hold',
      with_nul, t;
  END IF;
  EXECUTE format('SELECT count(*) FROM %I', t) INTO copied;
  IF copied <> expected THEN
    RAISE EXCEPTION 'table "%"."%" received % rows, SQLite has %', current_schema(), t, copied,
      expected;
  END IF;
  RETURN current_schema() || E'\t' || t || E'\t' || copied;
END
\$f\$;
SQL
}

# --- The copy ------------------------------------------------------------------------------

readonly TALLY="numpulls, numpushs, numchecks, numindexpulls, numdeletes, numattachmentpushes, \
numattachmentpulls, firstpushed, lastpushed, firstpulled, lastpulled"
# The repository's actors, a JSON array text, as a PostgreSQL array literal: {"a","b\"c"}.
# json_each yields the elements in array order, and a subquery with ORDER BY is not flattened
# into an aggregate, so group_concat sees them in that order.
readonly ACTORS_ARRAY="(SELECT '{' || coalesce(group_concat('\"' || replace(replace(value, '\\', \
'\\\\'), '\"', '\\\"') || '\"', ','), '') || '}' FROM (SELECT value FROM json_each(actors) \
ORDER BY key))"

# The columns of a table (the same names in both stores; docs/data-model.md).
columns_of() {
  case "$1" in
    repositories) echo "repositoryname, $TALLY, actors, numstars" ;;
    tags) echo "repository, tag, digest, digest_at, deleted, deleted_at, attachment, $TALLY" ;;
    digests) echo "repository, digest, media_type, size, deleted, deleted_at, $TALLY" ;;
    digest_parents) echo "repository, child, parent" ;;
    actors) echo "repository, actor, $TALLY, firstseen, lastseen" ;;
    days) echo "repository, day, $TALLY" ;;
    total_days) echo "day, numpulls, numpushs, numchecks, numindexpulls, numdeletes, \
numattachmentpushes, numattachmentpulls" ;;
    classes) echo "repository, class, tag, day, $TALLY" ;;
    event_ids) echo "id, applied_at" ;;
  esac
}
# What sqlite3 selects for them: the same columns, but the actors as an array literal.
select_of() {
  case "$1" in
    repositories) echo "repositoryname, $TALLY, $ACTORS_ARRAY, numstars" ;;
    *) columns_of "$1" ;;
  esac
}
# The text it selects, one expression a line.
text_of() {
  case "$1" in
    repositories) printf '%s\n' repositoryname "$ACTORS_ARRAY" ;;
    tags) printf '%s\n' repository tag digest ;;
    digests) printf '%s\n' repository digest media_type ;;
    digest_parents) printf '%s\n' repository child parent ;;
    actors) printf '%s\n' repository actor ;;
    days) printf '%s\n' repository day ;;
    total_days) printf '%s\n' day ;;
    classes) printf '%s\n' repository class tag day ;;
    event_ids) printf '%s\n' id ;;
  esac
}

# The sqlite3 input that prints the psql script moving one file's tables (into the schema
# search_path names), all in one transaction of the file.
sqlite_program() { # file
  local table expression nul
  lock_statements "$1"
  printf '%s\n' '.headers off' ".nullvalue ''"
  for table in "${TABLES[@]}"; do
    nul="0"
    while IFS= read -r expression; do
      nul+=" + (coalesce(instr(CAST($expression AS BLOB), x'00'), 0) > 0)"
    done < <(text_of "$table")
    cat <<SQL
.mode list
SELECT '\\copy $table ($(columns_of "$table")) FROM STDIN WITH (FORMAT csv, NULL '''')';
.mode csv
.separator "," "\\n"
SELECT $(select_of "$table") FROM $table;
.mode list
SELECT '\\.';
SELECT 'SELECT pg_temp.drec_move_check(''$table'', ' || count(*) || ', ' ||
  coalesce(sum(($nul) > 0), 0) || ');' FROM $table;
SQL
  done
  printf '%s\n' 'ROLLBACK;'
}

# Checks the targets first (every schema, in one short transaction that changes nothing), so
# that a wrong target is reported before anything is read.
if ! problem=$(
  {
    prelude
    for i in "${!schemas[@]}"; do
      printf "SELECT pg_temp.drec_move_ready(:'s%s');\n" "$i"
    done
    printf 'ROLLBACK;\n'
  } | run_psql 2>&1 >/dev/null
); then
  printf '%s\n' "$problem" >&2
  if [[ "$problem" == *"does not exist"* ]] && ((${#files[@]} > 1)); then
    printf '%s: (the files of registries drec no longer serves can be left out: --registries)\n' \
      "$me" >&2
  fi
  die "the target is not ready (above); nothing was moved"
fi

for i in "${!files[@]}"; do
  printf '%s: moving %s (registry %s) into schema "%s"\n' "$me" "${files[$i]}" "${labels[$i]}" \
    "${schemas[$i]}" >&2
done
start=$SECONDS
if ! report=$(
  {
    prelude
    for i in "${!files[@]}"; do
      printf "SET LOCAL search_path TO :\"s%s\";\nSELECT pg_temp.drec_move_ready(:'s%s');\n" \
        "$i" "$i"
      # Explicitly: errexit does not apply in a condition, and no COMMIT may follow a failure.
      sqlite_program "${files[$i]}" | sqlite "${files[$i]}" || exit 1
    done
    printf 'COMMIT;\n'
  } | run_psql
); then
  die "the move failed (above); nothing was moved, the target is as it was"
fi

# The report: a line "<schema> TAB <table> TAB <rows>" per table (drec_move_check).
width=0
for target in "${schemas[@]}"; do
  ((${#target} > width)) && width=${#target}
done
printf '%s: moved in one transaction (%d s), rows per schema and table:\n' "$me" \
  "$((SECONDS - start))"
while IFS=$'\t' read -r target table rows; do
  [[ -n "$table" ]] || continue
  printf '  %-*s  %-14s %12s\n' "$width" "$target" "$table" "$rows"
done <<<"$report"
