#!/usr/bin/env bash
# Run a throw-away Virtuoso 7 (Debian's virtuoso-opensource) on loopback and load medkg's knowledge base.
#
#   scripts/virtuoso.sh start DIR          write DIR/virtuoso.ini, start virtuoso-t, wait until /sparql answers
#   scripts/virtuoso.sh load DIR FILE IRI  load an N-Triples file into named graph IRI (isql-vt: ld_dir + rdf_loader_run)
#   scripts/virtuoso.sh load-kb DIR        build medkg's knowledge base (if needed) and load it into its graph
#   scripts/virtuoso.sh stop DIR           stop the server started in DIR
#
# Ports: VIRTUOSO_SQL_PORT (default 11111), VIRTUOSO_HTTP_PORT (default 18890), both on 127.0.0.1.
# Password of the dba account: the Debian default "dba" (the server listens on loopback only; do not
# expose it). Updates go through /sparql-auth with HTTP digest authentication as dba.
# The package's own service is not used: under a container policy it does not start, and it would
# listen on all interfaces; this server lives in DIR and dies with `stop`.
set -euo pipefail

SQL_PORT="${VIRTUOSO_SQL_PORT:-11111}"
HTTP_PORT="${VIRTUOSO_HTTP_PORT:-18890}"
PYTHON="${PYTHON:-python3}"

usage() { sed -n '2,9p' "$0" >&2; exit 2; }

isql() { isql-vt "127.0.0.1:$SQL_PORT" dba dba "$@"; }

write_ini() {
    local dir="$1"
    cat >"$dir/virtuoso.ini" <<EOF
[Database]
DatabaseFile    = $dir/virtuoso.db
ErrorLogFile    = $dir/virtuoso.log
LockFile        = $dir/virtuoso.lck
TransactionFile = $dir/virtuoso.trx
xa_persistent_file = $dir/virtuoso.pxa
ErrorLogLevel   = 7
FileExtend      = 200
TempStorage     = TempDatabase

[TempDatabase]
DatabaseFile    = $dir/virtuoso-temp.db
TransactionFile = $dir/virtuoso-temp.trx

[Parameters]
ServerPort           = 127.0.0.1:$SQL_PORT
DisableUnixSocket    = 1
MaxClientConnections = 8
CheckpointInterval   = 60
CaseMode             = 2
DirsAllowed          = ., $dir/load
NumberOfBuffers      = 20000
MaxDirtyBuffers      = 15000
ThreadsPerQuery      = 2
AsyncQueueMaxThreads = 4
MaxQueryMem          = 512M

[HTTPServer]
ServerPort           = 127.0.0.1:$HTTP_PORT
ServerRoot           = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 8
ServerThreads        = 8
EnabledGzipContent   = 0
Charset              = UTF-8

[SPARQL]
; medkg checks batches of patients: its result sets are larger than Virtuoso's default 10,000 rows
ResultSetMaxRows           = 10000000
MaxSortedTopRows           = 10000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime      = 600
EOF
}

start() {
    local dir
    dir="$(realpath "$1")"
    mkdir -p "$dir/load"
    write_ini "$dir"
    (cd "$dir" && exec virtuoso-t +foreground +configfile "$dir/virtuoso.ini" >"$dir/stdout.log" 2>&1) &
    echo $! >"$dir/virtuoso.pid"
    local started=$SECONDS
    until "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5).read()' \
        "http://127.0.0.1:$HTTP_PORT/sparql?query=ASK%7B%7D" 2>/dev/null; do
        if ! kill -0 "$(cat "$dir/virtuoso.pid")" 2>/dev/null; then
            echo "virtuoso.sh: virtuoso-t exited; log:" >&2
            tail -20 "$dir/virtuoso.log" "$dir/stdout.log" >&2 || true
            exit 1
        fi
        if [ $((SECONDS - started)) -gt 120 ]; then
            echo "virtuoso.sh: no answer on port $HTTP_PORT after 120 s" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "virtuoso.sh: ready in $((SECONDS - started)) s: http://127.0.0.1:$HTTP_PORT/sparql" \
        "(updates: /sparql-auth, digest auth as dba)" >&2
}

load() {
    local dir file graph name
    dir="$(realpath "$1")"
    file="$(realpath "$2")"
    graph="$3"
    case "$graph" in
        *[!A-Za-z0-9:._/#-]*) echo "virtuoso.sh: refusing graph IRI with unexpected characters: $graph" >&2; exit 2 ;;
    esac
    name="$(basename "$file")"
    cp "$file" "$dir/load/$name"
    local started=$EPOCHREALTIME
    isql <<EOF >"$dir/load.log"
SPARQL CLEAR GRAPH <$graph>;
DELETE FROM DB.DBA.load_list WHERE ll_graph = '$graph' OR ll_file = '$dir/load/$name';
ld_dir('$dir/load', '$name', '$graph');
rdf_loader_run();
checkpoint;
SELECT ll_state, ll_error FROM DB.DBA.load_list WHERE ll_graph = '$graph';
SPARQL SELECT COUNT(*) FROM <$graph> WHERE { ?s ?p ?o };
EOF
    local elapsed
    elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    local count
    count="$(isql exec="SPARQL SELECT COUNT(*) FROM <$graph> WHERE { ?s ?p ?o };" | awk '/^[0-9]+$/ { print; exit }')"
    if grep -q "Error\|SR[0-9]" "$dir/load.log" || [ "${count:-0}" -eq 0 ]; then
        cat "$dir/load.log" >&2
        echo "virtuoso.sh: graph <$graph> holds ${count:-0} triples after loading" >&2
        exit 1
    fi
    echo "virtuoso.sh: loaded $file into <$graph> ($count triples) in ${elapsed} s" >&2
}

load_kb() {
    local dir="$1" compiled graph
    read -r compiled graph < <("$PYTHON" -c \
        'from medkg.build import ensure_built; from medkg.remote_store import kb_graph_iri
b = ensure_built(); print(b.compiled, kb_graph_iri(b.sha256))')
    load "$dir" "$compiled" "$graph"
}

stop() {
    local dir pid
    dir="$(realpath "$1")"
    [ -f "$dir/virtuoso.pid" ] || return 0
    pid="$(cat "$dir/virtuoso.pid")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$dir/virtuoso.pid"
}

[ $# -ge 2 ] || usage
command="$1"
shift
case "$command" in
    start) start "$1" ;;
    load) [ $# -eq 3 ] || usage; load "$@" ;;
    load-kb) load_kb "$1" ;;
    stop) stop "$1" ;;
    *) usage ;;
esac
