#!/bin/sh
# make image-check: build the image, then try it as an operator would, with a read-only
# root filesystem, tmpfs on /run and /tmp, and a fresh data volume:
#   bite --version; entry-run --dry-run on paper; health-run; the files on the volume
#   belong to the user bite; cron's own syntax check of /etc/cron.d/bite (and that it
#   refuses a broken copy); the container started as in production (health-run, then
#   cron in the foreground) reported healthy by its HEALTHCHECK.
# Installs podman, runc and mmdebstrap with apt-get when they are missing (needs root).
set -eu
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="$PWD/scripts/container/containers.conf"
missing=""
for tool in podman runc mmdebstrap; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "image-check: installing$missing"
    # a clean machine may hold no package lists yet
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
    }
fi
started=$(date +%s)
sh scripts/container/build-image.sh
image=localhost/cerbero-bite:latest
volume="bite-check-$$"
name="bite-check-$$"
cleanup() {
    podman rm --force --ignore --time 0 "$name" "$name-cron" >/dev/null 2>&1 || true
    podman volume rm --force "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
podman volume create "$volume" >/dev/null
run() { # a one-shot command in a fresh container on the volume
    podman run --rm --read-only --tmpfs /run --tmpfs /tmp --no-healthcheck \
        -e CERBERO_BITE_NOW=2026-01-05T14:00:00Z -v "$volume:/data" "$image" "$@"
}
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }

version=$(run bite --version) || fail "bite --version"
[ "$version" = "bite $(.venv/bin/python -c 'import bite; print(bite.__version__)')" ] \
    || fail "bite --version printed '$version'"
echo "image-check: $version"
run bite entry-run --dry-run --json > build/image-entry.json || fail "entry-run --dry-run"
grep -q '"status": "would_enter"\|"status": "no_entry"' build/image-entry.json \
    || fail "entry-run --dry-run gave no decision"
echo "image-check: entry-run --dry-run: $(sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' build/image-entry.json | head -n 1)"
run bite health-run > /dev/null || fail "health-run"
echo "image-check: health-run: exit 0"
owners=$(podman run --rm --read-only --no-healthcheck -v "$volume:/data" --entrypoint sh \
    "$image" -c 'find /data ! -user bite | head -n 5')
[ -z "$owners" ] || fail "files on the volume not owned by bite: $owners"
echo "image-check: every file on the volume belongs to bite"
# a command runs as bite, and a secret file becomes its _FILE variable (never its value)
printf 'not-a-real-chat-id\n' > build/image-probe-secret
seen=$(podman run --rm --read-only --no-healthcheck \
    -v "$PWD/build/image-probe-secret:/run/secrets/telegram_chat_id:ro" "$image" \
    sh -c 'echo "$(id -un) $CERBERO_BITE_TELEGRAM_CHAT_ID_FILE ${CERBERO_BITE_TELEGRAM_CHAT_ID:-unset}"')
[ "$seen" = "bite /run/secrets/telegram_chat_id unset" ] || fail "as-bite and secrets: '$seen'"
echo "image-check: commands run as bite; /run/secrets/NAME is CERBERO_BITE_<NAME>_FILE"
# crontab -n writes its copy under /var/spool/cron even in a dry run: a writable root here
podman run --rm --no-healthcheck --entrypoint sh "$image" -c '
    as_user() { sed -E "/^[0-9*]/ s/^(([^ ]+ +){5})[^ ]+ +/\1/" "$1"; }
    as_user /etc/cron.d/bite > /tmp/jobs && crontab -n /tmp/jobs >/dev/null 2>&1 || exit 1
    sed "s/^17 /61 /" /etc/cron.d/bite > /tmp/broken
    as_user /tmp/broken > /tmp/jobs && ! crontab -n /tmp/jobs >/dev/null 2>&1' \
    || fail "cron's syntax check of /etc/cron.d/bite"
echo "image-check: cron accepts /etc/cron.d/bite (and refuses a broken copy)"
podman run --detach --name "$name" --read-only --tmpfs /run --tmpfs /tmp \
    -v "$volume:/data" "$image" >/dev/null 2>&1
healthy=""
for _ in $(seq 60); do
    if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=1; break; fi
    sleep 1
done
[ -n "$healthy" ] || { podman logs "$name" >&2; fail "the HEALTHCHECK never passed"; }
podman exec "$name" sh -c 'cat /proc/[0-9]*/comm' | grep -qx cron || fail "cron is not running"
echo "image-check: started as in production: healthy, cron running"
# cron itself runs a job as bite and its output reaches the container's log: a probe
# line, every minute, in a second container on the same image and volume
probe="build/image-probe.cron"
grep -v '^[0-9*]' scripts/container/bite.cron > "$probe"
echo '* * * * * root cd /data && as-bite bite health-run >/proc/1/fd/1 2>&1' >> "$probe"
chmod 0644 "$probe"
podman run --detach --name "$name-cron" --read-only --tmpfs /run --tmpfs /tmp \
    --no-healthcheck -v "$volume:/data" -v "$PWD/$probe:/etc/cron.d/probe:ro" \
    "$image" >/dev/null 2>&1
ran=""
for _ in $(seq 75); do
    if [ "$(podman logs "$name-cron" 2>&1 | grep -c '^health: ')" -ge 2 ]; then ran=1; break; fi
    sleep 1
done
podman rm --force --time 0 "$name-cron" >/dev/null 2>&1 || true
[ -n "$ran" ] || fail "cron ran no job into the container's log within 75 s"
echo "image-check: cron ran a job as bite; its output is in the container's log"
echo "image-check: ok in $(( $(date +%s) - started )) s; image $(podman image inspect --format '{{.Size}}' "$image") bytes"
