#!/bin/sh
# Loads the cartpole index template into Elasticsearch and the dashboard into Kibana,
# once each stack comes up. The compose efk profile runs it as the one-shot service
# efk-init; by hand:
#   ELASTICSEARCH_URL=... KIBANA_URL=... ELASTIC_PASSWORD=... sh scaffold/efk/init.sh
#
#   ELASTICSEARCH_URL  default http://elasticsearch:9200
#   KIBANA_URL         default http://kibana:5601
#   ELASTIC_USERNAME   the user for both (default elastic)
#   ELASTIC_PASSWORD   its password; unset: no authentication (security off)
#   EFK_DIR            where index-template.json and kibana-dashboard.ndjson are
#                      (default: this script's folder)
#   WAIT_SECONDS       how long to wait for each service to answer (default 180)
#   CURL_AUTH          extra curl arguments for both, e.g. "--cacert /ca.pem"; they
#                      show in the process list, so keep secrets out of them
# The password goes to curl on its standard input (a config read with -K -), never on
# a command line, and is never printed.
# Exit 0 when both are loaded; 1 with one line on stderr otherwise.
set -eu

ES=${ELASTICSEARCH_URL:-http://elasticsearch:9200}
KIBANA=${KIBANA_URL:-http://kibana:5601}
DIR=${EFK_DIR:-$(dirname "$0")}
WAIT=${WAIT_SECONDS:-180}
AUTH=${CURL_AUTH:-}
USERNAME=${ELASTIC_USERNAME:-elastic}
PASSWORD=${ELASTIC_PASSWORD:-}

fail() {
    echo "efk-init: $*" >&2
    exit 1
}

# A value inside double quotes in curl's config syntax: \ and " escaped.
quoted() {
    printf '%s' "$1" | sed 's/[\\"]/\\&/g'
}

# acurl ARGS...: curl ARGS, as USERNAME when a PASSWORD is set. printf is a shell
# builtin, so the password is on no process's command line.
acurl() {
    if [ -n "$PASSWORD" ]; then
        printf 'user = "%s:%s"\n' "$(quoted "$USERNAME")" "$(quoted "$PASSWORD")" \
            | curl -K - "$@"
    else
        curl "$@"
    fi
}

# wait_for NAME URL: poll until URL answers 2xx, or give up after WAIT seconds.
wait_for() {
    waited=0
    # shellcheck disable=SC2086  # AUTH holds several arguments on purpose
    until acurl -fsS -o /dev/null --max-time 5 $AUTH "$2"; do
        waited=$((waited + 2))
        [ "$waited" -lt "$WAIT" ] || fail "$1 did not answer at $2 within ${WAIT}s"
        sleep 2
    done
}

[ -f "$DIR/index-template.json" ] || fail "no index-template.json in $DIR"
[ -f "$DIR/kibana-dashboard.ndjson" ] || fail "no kibana-dashboard.ndjson in $DIR"

wait_for Elasticsearch "$ES/_cluster/health?wait_for_status=yellow&timeout=5s"
# shellcheck disable=SC2086
acurl -fsS --max-time 30 $AUTH -X PUT "$ES/_index_template/cartpole" \
    -H 'Content-Type: application/json' \
    --data-binary "@$DIR/index-template.json" >/dev/null \
    || fail "Elasticsearch refused the index template"
echo "efk-init: index template cartpole loaded into $ES"

# Kibana's status API answers 503 until it is available; the import is retried while
# Kibana still refuses it (a 5xx while its saved objects service starts), but not
# when it answers and reports errors.
wait_for Kibana "$KIBANA/api/status"
waited=0
# shellcheck disable=SC2086
until out=$(acurl -fsS --max-time 60 $AUTH -X POST \
        "$KIBANA/api/saved_objects/_import?overwrite=true" \
        -H 'kbn-xsrf: true' --form "file=@$DIR/kibana-dashboard.ndjson" 2>&1); do
    waited=$((waited + 2))
    [ "$waited" -lt "$WAIT" ] || fail "Kibana refused the saved objects: $out"
    sleep 2
done
echo "$out" | grep -q '"success":true' || fail "Kibana import did not succeed: $out"
echo "efk-init: dashboard 'cartpole training' imported into $KIBANA"
