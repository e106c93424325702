#!/usr/bin/env bash
# The aarch64 part of CI: runs a representative part of the test suite with the aarch64 build
# of Deno under user-mode emulation (qemu-user through binfmt_misc, so that the serve and
# replay processes the tests start through Deno.execPath() are aarch64 too), and ends with
# the plain line "aarch64: N passed, N failed". Exit status: 0 when every test passed.
#
# Installs what it needs on a Debian machine (as root): qemu-user, qemu-user-static,
# binfmt-support, libc6:arm64 and libgcc-s1:arm64 (after dpkg --add-architecture arm64);
# mounts binfmt_misc and enables qemu-aarch64; the aarch64 Deno from the npm package
# @deno/linux-arm64-glibc, kept in $EDGECORE_CI_CACHE (default ~/.cache/edgecore-meta-ci).
#
# Environment (test-only knobs; the product reads none of them):
#   TEST_TIME_SCALE     factor for the tests' own time limits (default 6 here)
#   CRASH_KILLS         serve kills of the crash-safety test (default 3 here, 20 natively)
#   CRASH_REPLAY_KILLS  replay kills (default 1 here, 5 natively)
#   CRASH_REPLAY_LINES  journal lines of the replay kills (default 3000 here, 30000 natively)
set -uo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1

DENO_VERSION=2.9.6
CACHE=${EDGECORE_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgecore-meta-ci}/aarch64
DENO_A64=$CACHE/deno-$DENO_VERSION/deno
TESTS=(
  tests/arch_test.ts
  tests/store_test.ts
  tests/replay_golden_test.ts
  tests/serve_e2e_test.ts
  tests/crash_safety_test.ts
  tests/metaserver_kubectl_test.ts
  tests/replay_decoder_test.ts
)

fail() {
  echo "aarch64: $*" >&2
  echo "aarch64: 0 passed, 1 failed"
  exit 1
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

started=$(date +%s)
mkdir -p "$CACHE" || fail "cannot create $CACHE"

# 1. Debian packages.
packages=(qemu-user qemu-user-static binfmt-support libc6:arm64 libgcc-s1:arm64)
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing Debian packages ${missing[*]}; run as root to install them"
  echo "aarch64: installing ${missing[*]}" >&2
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64 || fail "dpkg --add-architecture arm64 failed"
  fi
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
    >"$CACHE.apt.log" 2>&1 || { tail -20 "$CACHE.apt.log" >&2; fail "apt-get install ${missing[*]} failed"; }
fi

# 2. binfmt_misc: the kernel runs aarch64 ELF files through qemu (child processes need it).
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
  mount -t binfmt_misc binfmt_misc "$binfmt" ||
    fail "cannot mount binfmt_misc on $binfmt (needs root and a kernel with binfmt_misc)"
fi
if ! head -n 1 "$binfmt/qemu-aarch64" 2>/dev/null | grep -qx enabled; then
  update-binfmts --enable qemu-aarch64 || fail "update-binfmts --enable qemu-aarch64 failed"
fi

# 3. The aarch64 Deno from npm.
if [ ! -x "$DENO_A64" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION" >/dev/null &&
    tar xzf deno-linux-arm64-glibc-"$DENO_VERSION".tgz) ||
    { rm -rf "$tmp"; fail "npm pack @deno/linux-arm64-glibc@$DENO_VERSION failed"; }
  mkdir -p "$(dirname "$DENO_A64")" && mv "$tmp/package/deno" "$DENO_A64" && chmod +x "$DENO_A64"
  rm -rf "$tmp"
fi
version=$("$DENO_A64" --version 2>&1 | head -n 1)
case "$version" in
  *aarch64-unknown-linux-gnu*) echo "aarch64: $version ($DENO_A64)" >&2 ;;
  *) fail "$DENO_A64 does not run as aarch64: $version" ;;
esac

# 4. The tests. --no-check: type checking does not depend on the architecture (the main suite
# and `deno task check` do it) and takes minutes under emulation. A DENO_DIR of its own keeps
# this Deno's caches apart from the native one's.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "aarch64: running ${TESTS[*]}" >&2
DENO_DIR=$CACHE/deno_dir \
  TEST_EXPECT_ARCH=aarch64 \
  TEST_SKIP_CPU_QUOTA=1 \
  TEST_TIME_SCALE=${TEST_TIME_SCALE:-6} \
  CRASH_KILLS=${CRASH_KILLS:-3} \
  CRASH_REPLAY_KILLS=${CRASH_REPLAY_KILLS:-1} \
  CRASH_REPLAY_LINES=${CRASH_REPLAY_LINES:-3000} \
  "$DENO_A64" test -A --no-check --parallel "${TESTS[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
if [ -z "$summary" ]; then
  echo "aarch64: deno test printed no summary line (exit $rc)" >&2
  passed=0
  failed=1
  rc=1
else
  passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
  failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
fi
echo "aarch64: took $(($(date +%s) - started)) s"
echo "aarch64: ${passed} passed, ${failed} failed"
exit "$rc"
