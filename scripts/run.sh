#!/bin/sh
# `make run`: starts tarn on the embedded default (./tarn-data) and, on first run, lands
# sample datasets in the raw zone with the AWS CLI (promotion moves them to cleaned), then
# keeps the server in the foreground.
set -eu
umask 027
TARN=${1:-build/tarn}
DATA=${2:-tarn-data}
LISTEN=${TARN_LISTEN:-127.0.0.1:9470}
ENDPOINT="http://$LISTEN"

"$TARN" serve --data "$DATA" --listen "$LISTEN" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID; exit 0' INT TERM

i=0
until curl -fsS "$ENDPOINT/healthz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $PID 2>/dev/null; then
        echo "run: tarn did not become ready" >&2
        exit 1
    fi
    sleep 0.1
done

SAMPLES=third_party/vega-datasets/data
if [ ! -f "$DATA/.samples-loaded" ] && [ -d "$SAMPLES" ]; then
    echo "run: landing sample data in s3://raw/samples/ ..." >&2
    export AWS_SHARED_CREDENTIALS_FILE="$DATA/admin.credentials" AWS_CONFIG_FILE=/dev/null \
        AWS_DEFAULT_REGION=us-east-1
    for f in airports.csv weather.csv sp500-2000.csv earthquakes.json flights-200k.json; do
        t=${f%.*}
        t=$(echo "$t" | tr '-' '_')
        /usr/bin/aws --endpoint-url "$ENDPOINT" s3 cp --only-show-errors \
            "$SAMPLES/$f" "s3://raw/samples/$t/$f"
    done
    touch "$DATA/.samples-loaded"
fi

cat >&2 <<MSG

tarn is running on $ENDPOINT with data in $DATA (Ctrl-C stops it).
  export AWS_SHARED_CREDENTIALS_FILE=$DATA/admin.credentials
  aws --endpoint-url $ENDPOINT s3 ls s3://cleaned/ --recursive
  $TARN tables cleaned
MSG
wait $PID
