#!/usr/bin/env bash
# Builds the OpenSSH server image used by the integration tests (sshpool-sshd:latest).
#
#   scripts/build-sshd-image.sh [--force] [--from-host | --dockerfile]
#
# --from-host (the default when /usr/sbin/sshd exists on this machine) copies the
# host's OpenSSH server, a shell, a few coreutils and their shared libraries into
# a root filesystem and `docker import`s it. That needs no image registry, which
# CI does not have, and gives a ~20 MB image that starts in well under a second.
# --dockerfile builds test/sshd/Dockerfile (debian:12-slim + openssh-server) and
# so needs a registry; it is the fallback for machines without OpenSSH installed.
#
# Both variants provide the same contract, which test/support/sshd.ts relies on:
#   user tester (uid 1000), home /home/tester, shell /bin/bash, password
#   "tester-password"; users fish-user, zsh-user, dash-user (uid 1001-1003, homes
#   under /home, login shells /usr/bin/fish, /usr/bin/zsh, /bin/dash, no
#   password); privilege separation user sshd; /run/sshd; /tmp (1777); sudo
#   (Debian's sudoers defaults, use_pty included) with users sudo-user (uid 1004,
#   password "sudo-user-password", may run anything after giving it),
#   nopasswd-user (1005, NOPASSWD for everything) and nosudo-user (1006, password
#   "nosudo-user-password", not in sudoers), all with bash; PAM (pam_unix) for
#   sudo and for sshd, which the fixture turns on with UsePAM yes for
#   keyboard-interactive logins.
# Bump IMAGE_REVISION when that contract or the file list changes, so that
# machines holding an older image rebuild it automatically.
set -euo pipefail

IMAGE="${SSHPOOL_SSHD_IMAGE:-sshpool-sshd:latest}"
IMAGE_REVISION=4
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Generated with: openssl passwd -6 -salt sshpool.test tester-password
# Kept literal so the build does not need the openssl command line tool.
# shellcheck disable=SC2016
TESTER_PASSWORD_HASH='$6$sshpool.test$e8/L8xezy6sXpsvBSr.6MbGrllScGuFTCGd67ULu9pKonWpZVYLQCGvHhTITqUD.GefHBNbwROAPV1cs.BTOu/'
# shellcheck disable=SC2016
SUDO_USER_PASSWORD_HASH='$6$sshpool.test$Xn5hm.BeGnSO96knvOuSGNjXkKJhMdeD67aQ0VhUdWacutviuuH6ddkHmDmzUR2CLBPimCFn2yqdaXIumdtSi1'
# shellcheck disable=SC2016
NOSUDO_USER_PASSWORD_HASH='$6$sshpool.test$bkjkQKqznfryyHIN962ScU968doaRSnhMWhs3jn6BEEgcxbeaqnTCKa7EepNLafKtVL8BwCee2qf45S/gDsp4.'

force=0
mode=auto
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --from-host) mode=host ;;
    --dockerfile) mode=dockerfile ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-sshd-image: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if ! docker info >/dev/null 2>&1; then
  echo "build-sshd-image: no Docker engine answers (start one with: scripts/docker-engine.sh start)" >&2
  exit 1
fi

if [[ $force -eq 0 ]]; then
  current="$(docker image inspect --format '{{ index .Config.Labels "sshpool.sshd.revision" }}' "$IMAGE" 2>/dev/null || true)"
  if [[ "$current" == "$IMAGE_REVISION" ]]; then
    echo "build-sshd-image: $IMAGE is up to date (revision $IMAGE_REVISION)"
    exit 0
  fi
fi

if [[ $mode == auto ]]; then
  if [[ -x /usr/sbin/sshd ]] && command -v ldd >/dev/null 2>&1; then mode=host; else mode=dockerfile; fi
fi

if [[ $mode == dockerfile ]]; then
  echo "build-sshd-image: building $IMAGE from test/sshd/Dockerfile"
  # Host networking for RUN steps: an engine started by scripts/docker-engine.sh
  # has no bridge network, and elsewhere it changes nothing that matters here.
  docker build --network host --label "sshpool.sshd.revision=$IMAGE_REVISION" -t "$IMAGE" "$REPO_ROOT/test/sshd"
  exit 0
fi

[[ -x /usr/sbin/sshd ]] || { echo "build-sshd-image: /usr/sbin/sshd not found (apt-get install openssh-server, or use --dockerfile)" >&2; exit 1; }

started_ms=$(date +%s%3N)
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/sshpool-sshd-rootfs.XXXXXX")"
trap 'rm -rf "$rootfs"' EXIT
# mktemp makes the directory 0700 and the tar's "./" entry carries that mode:
# some storage drivers (vfs) apply it to the image's /, locking out the test user.
chmod 0755 "$rootfs"

# Mirror the host's merged-/usr layout (Debian 12: /bin -> usr/bin etc.) so that
# the library paths printed by ldd and the interpreter path baked into every
# binary resolve the same way inside the image.
for top in bin sbin lib lib64; do
  if [[ -L "/$top" ]]; then
    ln -s "$(readlink "/$top")" "$rootfs/$top"
  elif [[ -d "/$top" ]]; then
    mkdir -p "$rootfs/$top"
  fi
done
mkdir -p "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/usr/lib" "$rootfs/usr/lib64"

# Copies one path into the rootfs, following symlink chains so that both the
# links (libfoo.so.1 -> libfoo.so.1.2.3) and their targets end up in the image.
copy_path() {
  local path="$1" dir real
  while :; do
    dir="$(cd "$(dirname "$path")" && pwd -P)"
    path="$dir/$(basename "$path")"
    [[ -e "$rootfs$path" || -L "$rootfs$path" ]] && return 0
    mkdir -p "$rootfs$dir"
    cp -a "$path" "$rootfs$path"
    [[ -L "$path" ]] || return 0
    real="$(readlink "$path")"
    [[ "$real" == /* ]] || real="$dir/$real"
    path="$real"
  done
}

copy_with_libs() {
  local bin="$1" lib
  copy_path "$bin"
  # ldd prints "libx.so => /path (addr)" for libraries and "/path (addr)" for the loader.
  while read -r lib; do
    [[ -n "$lib" ]] && copy_path "$lib"
  done < <(ldd "$bin" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}')
}

required=(
  /usr/sbin/sshd
  /bin/bash /bin/sh /bin/dash /usr/bin/fish /usr/bin/zsh
  /bin/sleep /bin/echo /bin/cat /usr/bin/printf /bin/pwd /usr/bin/env /usr/bin/head
  /bin/dd /usr/bin/yes /bin/kill /bin/true /bin/false /usr/bin/base64 /usr/bin/wc /usr/bin/od
  # sudo, its policy plugin, and the PAM modules that sudo and sshd (UsePAM yes) load.
  /usr/bin/sudo /usr/libexec/sudo/sudoers.so /usr/bin/tty /bin/stty
  /lib/x86_64-linux-gnu/security/pam_unix.so /lib/x86_64-linux-gnu/security/pam_permit.so
  /lib/x86_64-linux-gnu/security/pam_deny.so /sbin/unix_chkpwd
)
# Handy for tests and debugging, but the image works without them.
optional=(
  /usr/lib/openssh/sshd-session /usr/lib/openssh/sshd-auth /usr/lib/openssh/sftp-server
  /usr/bin/tail /usr/bin/tr /usr/bin/cut /usr/bin/sort /usr/bin/uniq /usr/bin/seq /usr/bin/tee
  /usr/bin/timeout /usr/bin/nohup /usr/bin/id /usr/bin/whoami /bin/hostname /bin/uname /bin/date
  /bin/ls /bin/mkdir /bin/rm /bin/rmdir /bin/cp /bin/mv /bin/ln /bin/touch /bin/chmod
  /usr/bin/stat /usr/bin/test /usr/bin/[ /usr/bin/expr /usr/bin/basename /usr/bin/dirname
  /bin/readlink /bin/mktemp /usr/bin/nproc /usr/bin/sha256sum /usr/bin/md5sum /usr/bin/cksum
  /usr/bin/xargs /bin/grep /bin/sed /bin/ps
)
for bin in "${required[@]}"; do
  [[ -e "$bin" ]] || { echo "build-sshd-image: required binary $bin is missing on this host" >&2; exit 1; }
  copy_with_libs "$bin"
done
for bin in "${optional[@]}"; do
  [[ -e "$bin" ]] && copy_with_libs "$bin"
done
# fish reads its own startup files (and the functions they use) even for `fish -c`.
for path in /usr/share/fish/config.fish /usr/share/fish/__fish_build_paths.fish /usr/share/fish/functions /etc/fish; do
  [[ -e "$path" ]] && copy_path "$path"
done
# Without moduli sshd still works but logs a warning and cannot offer
# diffie-hellman-group-exchange, which some clients negotiate.
[[ -f /etc/ssh/moduli ]] && copy_path /etc/ssh/moduli

mkdir -p "$rootfs/etc/ssh" "$rootfs/home/tester" "$rootfs/root" "$rootfs/run/sshd" \
  "$rootfs/var/empty" "$rootfs/var/log" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
[[ -e "$rootfs/var/run" ]] || ln -s ../run "$rootfs/var/run"
chmod 1777 "$rootfs/tmp"
chmod 0755 "$rootfs/run/sshd" "$rootfs/var/empty" "$rootfs/home/tester"
chmod 0700 "$rootfs/root"
chown 1000:1000 "$rootfs/home/tester"
# One user per login shell, to show that commands do not depend on it.
shell_users=(fish-user:1001:/usr/bin/fish zsh-user:1002:/usr/bin/zsh dash-user:1003:/bin/dash)
# Users for sudo: one who must give a password, one who need not, one not in sudoers.
sudo_users=(sudo-user:1004:/bin/bash nopasswd-user:1005:/bin/bash nosudo-user:1006:/bin/bash)
shell_users+=("${sudo_users[@]}")
for entry in "${shell_users[@]}"; do
  IFS=: read -r name uid _ <<<"$entry"
  mkdir -p "$rootfs/home/$name"
  chmod 0755 "$rootfs/home/$name"
  chown "$uid:$uid" "$rootfs/home/$name"
done
# sshd records logins without PAM; empty files keep it from logging errors.
: > "$rootfs/var/log/lastlog"
: > "$rootfs/var/log/wtmp"
: > "$rootfs/run/utmp"

cat > "$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
tester:x:1000:1000:sshpool test user:/home/tester:/bin/bash
EOF
cat > "$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
tester:x:1000:
EOF
for entry in "${shell_users[@]}"; do
  IFS=: read -r name uid shell <<<"$entry"
  echo "$name:x:$uid:$uid::/home/$name:$shell" >> "$rootfs/etc/passwd"
  echo "$name:x:$uid:" >> "$rootfs/etc/group"
done
cat > "$rootfs/etc/shadow" <<EOF
root:*:19000:0:99999:7:::
sshd:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
tester:${TESTER_PASSWORD_HASH}:19000:0:99999:7:::
EOF
# "*": no password login; the fixture's key logs them in.
for entry in "${shell_users[@]}"; do
  case "${entry%%:*}" in
    sudo-user) hash="$SUDO_USER_PASSWORD_HASH" ;;
    nosudo-user) hash="$NOSUDO_USER_PASSWORD_HASH" ;;
    *) hash='*' ;;
  esac
  echo "${entry%%:*}:${hash}:19000:0:99999:7:::" >> "$rootfs/etc/shadow"
done
chmod 0640 "$rootfs/etc/shadow"

# Debian's sudoers defaults (use_pty: sudo runs the command on a pty of its own), minus
# mail (no mailer here); sudo keeps its setuid bit through cp -a and tar.
mkdir -p "$rootfs/etc/sudoers.d"
cat > "$rootfs/etc/sudoers" <<'EOF'
Defaults env_reset
Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults use_pty
Defaults lecture=never
root ALL=(ALL:ALL) ALL
sudo-user ALL=(ALL:ALL) ALL
nopasswd-user ALL=(ALL:ALL) NOPASSWD: ALL
EOF
chmod 0440 "$rootfs/etc/sudoers"
# PAM: passwords from /etc/shadow. sshd uses it only when the fixture sets UsePAM yes.
mkdir -p "$rootfs/etc/pam.d"
for service in sudo sshd; do
  printf 'auth required pam_unix.so\naccount required pam_unix.so\nsession required pam_permit.so\npassword required pam_deny.so\n' \
    > "$rootfs/etc/pam.d/$service"
done
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\npassword required pam_deny.so\n' \
  > "$rootfs/etc/pam.d/other"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$rootfs/etc/nsswitch.conf"
printf '/bin/sh\n/bin/bash\n/bin/dash\n/usr/bin/fish\n/usr/bin/zsh\n' > "$rootfs/etc/shells"

# The fixture writes its own config, keys and authorized_keys; this default lets
# `docker run sshpool-sshd:latest` be poked at by hand (port 2222, password only).
printf 'Port 2222\nListenAddress 127.0.0.1\nHostKey /etc/ssh/ssh_host_ed25519_key\nUsePAM no\nPasswordAuthentication yes\nPrintMotd no\nPrintLastLog no\n' \
  > "$rootfs/etc/ssh/sshd_config"
command -v ssh-keygen >/dev/null 2>&1 && ssh-keygen -q -t ed25519 -N '' -C sshpool-sshd -f "$rootfs/etc/ssh/ssh_host_ed25519_key"

docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change "LABEL sshpool.sshd.revision=$IMAGE_REVISION" \
  --change 'CMD ["/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config"]' \
  - "$IMAGE" >/dev/null

size="$(docker image inspect --format '{{ .Size }}' "$IMAGE")"
elapsed_ms=$(( $(date +%s%3N) - started_ms ))
echo "build-sshd-image: imported $IMAGE from the host's $(/usr/sbin/sshd -V 2>&1 | head -n1 | cut -d, -f1)" \
  "($((size / 1000000)) MB) in $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))s"
