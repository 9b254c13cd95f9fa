# Sourced by tests/run and scripts/local: installs what zoom-ingest needs on a fresh Debian/Ubuntu
# machine and puts the project's own virtualenv (.venv/, git-ignored) first on PATH.
#   ZOOM_INGEST_EXTRAS   pip extras to install (tests/run: dev)
#   ZOOM_INGEST_PYTHON   the interpreter to build .venv from (default: python3 on PATH, >= 3.11)
# System packages come from apt when missing (as root, or with sudo): a stock Debian 12 or
# Ubuntu 24.04 has no pip, and its Python refuses `pip install` outside a venv (PEP 668).

_zi_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_zi_python="${ZOOM_INGEST_PYTHON:-python3}"

_zi_apt() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

_zi_missing=()
# Debian's package of python3.X is named after the command (Ubuntu 22.04: ZOOM_INGEST_PYTHON=python3.11).
command -v "$_zi_python" >/dev/null || _zi_missing+=("$(basename "$_zi_python")")
command -v redis-server >/dev/null || _zi_missing+=(redis-server)
command -v redis-sentinel >/dev/null || _zi_missing+=(redis-sentinel)
command -v java >/dev/null || _zi_missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || _zi_missing+=(maven)
command -v setpriv >/dev/null || _zi_missing+=(util-linux)
command -v openssl >/dev/null || _zi_missing+=(openssl)
if ((${#_zi_missing[@]})); then
    _zi_apt "${_zi_missing[@]}"
fi

if ! "$_zi_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "zoom-ingest needs Python 3.11 or newer; $_zi_python is $("$_zi_python" --version 2>&1)" >&2
    exit 1
fi

_zi_venv="$_zi_root/.venv"
if [[ ! -x "$_zi_venv/bin/python" ]] || ! "$_zi_venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$_zi_venv"
    # Debian and Ubuntu split venv's pip bootstrap (ensurepip) into python3.X-venv, named after the
    # interpreter's version (python3-venv would be the distribution's default Python's, e.g. 3.10's
    # on Ubuntu 22.04 when ZOOM_INGEST_PYTHON=python3.11).
    if ! "$_zi_python" -m venv "$_zi_venv" >/dev/null 2>&1; then
        rm -rf "$_zi_venv"
        _zi_apt "$("$_zi_python" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
        "$_zi_python" -m venv "$_zi_venv"
    fi
fi

_zi_spec="."
[[ -n "${ZOOM_INGEST_EXTRAS:-}" ]] && _zi_spec=".[${ZOOM_INGEST_EXTRAS}]"
(cd "$_zi_root" && "$_zi_venv/bin/python" -m pip install -q --disable-pip-version-check --root-user-action=ignore -e "$_zi_spec")

export VIRTUAL_ENV="$_zi_venv"
export PATH="$_zi_venv/bin:$PATH"
hash -r
