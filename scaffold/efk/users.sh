#!/bin/sh
# Sets up the users of the compose efk stack in an Elasticsearch with security on. The
# compose efk profile runs it as the one-shot service efk-users, before Kibana and
# Fluentd start; by hand:
#   ELASTICSEARCH_URL=... ELASTIC_PASSWORD=... KIBANA_SYSTEM_PASSWORD=... \
#   CARTPOLE_ES_PASSWORD=... sh scaffold/efk/users.sh
#
#   1. kibana_system (the built-in user Kibana connects as) gets KIBANA_SYSTEM_PASSWORD;
#   2. role cartpole_writer may create cartpole-* indices and index documents into
#      them (with the ids the events carry), and read the cluster's version;
#   3. user cartpole_writer, with that role and CARTPOLE_ES_PASSWORD: Fluentd writes
#      as it, and so can the elasticsearch metrics engine.
#
#   ELASTICSEARCH_URL  default http://elasticsearch:9200
#   ELASTIC_USERNAME   the user making these calls (default elastic)
#   ELASTIC_PASSWORD   its password (required)
#   WAIT_SECONDS       how long to wait for Elasticsearch to answer (default 180)
# Idempotent: each run sets the same three things again, so a password changed in .env
# takes effect at the next start. Every password goes to curl on its standard input (a
# config read with -K -), never on a command line, and none is printed.
# Exit 0 when all three are set; 1 with one line on stderr otherwise.
set -eu

ES=${ELASTICSEARCH_URL:-http://elasticsearch:9200}
WAIT=${WAIT_SECONDS:-180}
USERNAME=${ELASTIC_USERNAME:-elastic}

fail() {
    echo "efk-users: $*" >&2
    exit 1
}

[ -n "${ELASTIC_PASSWORD:-}" ] || fail "ELASTIC_PASSWORD is not set (run make env)"
[ -n "${KIBANA_SYSTEM_PASSWORD:-}" ] || fail "KIBANA_SYSTEM_PASSWORD is not set (run make env)"
[ -n "${CARTPOLE_ES_PASSWORD:-}" ] || fail "CARTPOLE_ES_PASSWORD is not set (run make env)"

# A value inside double quotes, in JSON as in curl's config syntax: \ and " escaped.
quoted() {
    printf '%s' "$1" | sed 's/[\\"]/\\&/g'
}

# The config curl reads from its stdin: the user, and a request body when given one.
# printf is a shell builtin, so no password is on any process's command line.
config() {
    printf 'user = "%s:%s"\n' "$(quoted "$USERNAME")" "$(quoted "$ELASTIC_PASSWORD")"
    [ $# -eq 0 ] || printf 'data-binary = "%s"\n' "$(quoted "$1")"
}

# call WHAT METHOD PATH [BODY]: one JSON request as USERNAME; fails with one line.
call() {
    what=$1 method=$2 path=$3
    shift 3
    # curl's own error line (a status, a refused connection) holds no secret.
    err=$(config "$@" | curl -fsS -o /dev/null --max-time 30 -K - -X "$method" \
        -H 'Content-Type: application/json' "$ES$path" 2>&1) \
        || fail "Elasticsearch refused to $what ($method $path): $err"
}

waited=0
until config | curl -fsS -o /dev/null --max-time 5 -K - \
        "$ES/_cluster/health?wait_for_status=yellow&timeout=5s" 2>/dev/null; do
    waited=$((waited + 2))
    [ "$waited" -lt "$WAIT" ] \
        || fail "Elasticsearch did not answer as $USERNAME at $ES within ${WAIT}s"
    sleep 2
done

call "set the kibana_system password" POST /_security/user/kibana_system/_password \
    "{\"password\":\"$(quoted "$KIBANA_SYSTEM_PASSWORD")\"}"
echo "efk-users: kibana_system's password set"

# monitor: the cluster's version and health, which Fluentd's Elasticsearch output
# and the Elasticsearch clients read before writing. index (with auto_configure and
# create_index for each new day's index) writes a document under a given id, again
# the same when a batch is retried; no read, no delete.
call "create role cartpole_writer" PUT /_security/role/cartpole_writer \
    '{"cluster":["monitor"],"indices":[{"names":["cartpole-*"],"privileges":["create_index","auto_configure","index"]}]}'
call "create user cartpole_writer" PUT /_security/user/cartpole_writer \
    "{\"password\":\"$(quoted "$CARTPOLE_ES_PASSWORD")\",\"roles\":[\"cartpole_writer\"],\"full_name\":\"cartpole metrics writer\"}"
echo "efk-users: role and user cartpole_writer set (writes cartpole-* indices only)"
