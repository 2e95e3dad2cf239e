//! The helper layer around user scripts: a private directory `<work_dir>/.octopus` (0700)
//! holding the variables file (0600) and the Bash and Python bootstraps that define
//! Octopus's helper functions and then run the user's script. It is removed after the run.
//!
//! The variables file has one line per variable: `base64(lower-case name) base64(value)`
//! (value evaluated with Octostache). The helpers look names up case-insensitively, like our
//! variable dictionary. Variables never go into the environment.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use octostache::Variables;

use crate::service_messages::encode;

/// Name of the private directory in the work dir.
pub(crate) const DIR: &str = ".octopus";

/// The helper files of one action.
pub(crate) struct Bootstrap {
    dir: PathBuf,
    vars_file: PathBuf,
    run_as: Option<(u32, u32)>,
    count: usize,
}

impl Bootstrap {
    /// Creates `<work_dir>/.octopus` with the variables file and the Python bootstrap.
    pub(crate) fn create(
        work_dir: &Path,
        vars: &Variables,
        run_as: Option<(u32, u32)>,
    ) -> io::Result<Bootstrap> {
        let dir = work_dir.join(DIR);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        set_mode(&dir, 0o700)?;
        chown(&dir, run_as)?;
        let b = Bootstrap {
            vars_file: dir.join("variables"),
            dir,
            run_as,
            count: 0,
        };
        b.write_variables(vars)?;
        b.write_private(&b.dir.join("bootstrap.py"), PYTHON_BOOTSTRAP.as_bytes())?;
        Ok(b)
    }

    /// (Re)writes the variables file, e.g. after earlier scripts set output variables.
    pub(crate) fn write_variables(&self, vars: &Variables) -> io::Result<()> {
        let mut text = String::with_capacity(vars.len() * 48);
        for (name, _) in vars.iter() {
            let value = vars.eval(name).unwrap_or_default();
            text.push_str(&encode(&name.to_lowercase()));
            text.push(' ');
            text.push_str(&encode(&value));
            text.push('\n');
        }
        self.write_private(&self.vars_file, text.as_bytes())
    }

    /// Writes a file only the step's user can read (0600).
    pub(crate) fn write_private(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        write_private(path, bytes, self.run_as)
    }

    /// A path for a new private file in the helper directory.
    pub(crate) fn private_path(&mut self, stem: &str, ext: &str) -> PathBuf {
        self.count += 1;
        self.dir.join(format!("{stem}-{}.{ext}", self.count))
    }

    /// Writes a POSIX-sh bootstrap that defines the helpers, sets the positional
    /// parameters to `raw_parameters` (pasted as written, so the shell parses quotes, as
    /// Calamari does) and sources `script` (so `exit N` ends the step with N).
    pub(crate) fn bash(&mut self, script: &Path, raw_parameters: &str) -> io::Result<PathBuf> {
        let path = self.private_path("bootstrap", "sh");
        let mut text = String::new();
        text.push_str(
            "# Written by octopus-executor: Octopus helper functions, then the script.\n",
        );
        text.push_str(&format!(
            "__octopus_variables={}\n",
            sh_quote(&self.vars_file.to_string_lossy())
        ));
        text.push_str(BASH_HELPERS);
        let params = raw_parameters.replace(['\n', '\r'], " ");
        text.push_str(&format!("set -- {params}\n"));
        text.push_str(&format!(". {}\n", sh_quote(&script.to_string_lossy())));
        self.write_private(&path, text.as_bytes())?;
        Ok(path)
    }

    /// The Python bootstrap; run as `python3 -u <it> <variables> <script> <args...>`.
    pub(crate) fn python(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("bootstrap.py"), self.vars_file.clone())
    }

    /// Removes the helper directory (variables included).
    pub(crate) fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Single-quotes `s` for sh.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Gives `path` to the step's user, when it runs as one.
pub(crate) fn chown(path: &Path, run_as: Option<(u32, u32)>) -> io::Result<()> {
    #[cfg(unix)]
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    }
    #[cfg(not(unix))]
    let _ = (path, run_as);
    Ok(())
}

/// [`chown`] of a whole tree (links themselves, never their targets).
pub(crate) fn chown_tree(root: &Path, run_as: Option<(u32, u32)>) -> io::Result<()> {
    if run_as.is_none() {
        return Ok(());
    }
    chown(root, run_as)?;
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(root)? {
            chown_tree(&entry?.path(), run_as)?;
        }
    }
    Ok(())
}

/// Octopus's Bash helpers, in POSIX sh so they also work when only `sh` exists. Needs
/// coreutils `base64` and `awk`.
const BASH_HELPERS: &str = r###"
encode_servicemessagevalue() { printf '%s' "$1" | base64 -w0; }
decode_servicemessagevalue() { printf '%s' "$1" | base64 -d; }

get_octopusvariable() {
  __octopus_n=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | base64 -w0)
  __octopus_v=$(awk -v n="$__octopus_n" '$1 == n { print $2; exit }' "$__octopus_variables")
  if [ -n "$__octopus_v" ]; then printf '%s' "$__octopus_v" | base64 -d; fi
}

set_octopusvariable() {
  __octopus_n=$(encode_servicemessagevalue "$1")
  __octopus_v=$(encode_servicemessagevalue "$2")
  if [ "$3" = "-sensitive" ]; then
    printf "##octopus[setVariable name='%s' value='%s' sensitive='VHJ1ZQ==']\n" "$__octopus_n" "$__octopus_v"
  else
    printf "##octopus[setVariable name='%s' value='%s']\n" "$__octopus_n" "$__octopus_v"
  fi
}

fail_step() {
  if [ -n "$1" ]; then
    printf "##octopus[resultMessage message='%s']\n" "$(encode_servicemessagevalue "$1")"
  fi
  exit 1
}

new_octopusartifact() {
  case "$1" in /*) __octopus_p="$1" ;; *) __octopus_p="$(pwd)/$1" ;; esac
  __octopus_name="${2:-$(basename "$1")}"
  if [ ! -e "$__octopus_p" ]; then
    printf '%s\n' "There is no file at '$1' to collect as an artifact." >&2
    return 0
  fi
  __octopus_len=$(wc -c < "$__octopus_p" | tr -d ' ')
  printf "##octopus[createArtifact path='%s' name='%s' length='%s']\n" \
    "$(encode_servicemessagevalue "$__octopus_p")" \
    "$(encode_servicemessagevalue "$__octopus_name")" \
    "$(encode_servicemessagevalue "$__octopus_len")"
}

update_progress() {
  printf "##octopus[progress percentage='%s' message='%s']\n" \
    "$(encode_servicemessagevalue "$1")" "$(encode_servicemessagevalue "$2")"
}

write_verbose() { printf '##octopus[stdout-verbose]\n%s\n##octopus[stdout-default]\n' "$1"; }
write_highlight() { printf '##octopus[stdout-highlight]\n%s\n##octopus[stdout-default]\n' "$1"; }
write_wait() { printf '##octopus[stdout-wait]\n%s\n##octopus[stdout-default]\n' "$1"; }
write_warning() { printf '##octopus[stdout-warning]\n%s\n##octopus[stdout-default]\n' "$1"; }

"###;

/// Octopus's Python helpers, then the user's script run as `__main__`.
const PYTHON_BOOTSTRAP: &str = r###"# Written by octopus-executor: Octopus helper functions, then the script.
import base64 as _b64
import os as _os
import sys as _sys

_variables_file, _script = _sys.argv[1], _sys.argv[2]
_octopus_variables = {}
with open(_variables_file, "rb") as _f:
    for _line in _f:
        _parts = _line.rstrip(b"\n").split(b" ", 1)
        if len(_parts) == 2:
            _k = _b64.b64decode(_parts[0]).decode("utf-8")
            _octopus_variables.setdefault(_k, _b64.b64decode(_parts[1]).decode("utf-8"))


def encode(value):
    return _b64.b64encode(str(value).encode("utf-8")).decode("ascii")


def decode(value):
    return _b64.b64decode(value).decode("utf-8")


def _message(_kind, **attrs):
    body = " ".join("%s='%s'" % (k, encode(v)) for k, v in attrs.items())
    print("##octopus[%s %s]" % (_kind, body) if body else "##octopus[%s]" % _kind, flush=True)


def get_octopusvariable(name):
    return _octopus_variables.get(str(name).lower(), "")


def set_octopusvariable(name, value, sensitive=False):
    if sensitive:
        _message("setVariable", name=name, value=value, sensitive="True")
    else:
        _message("setVariable", name=name, value=value)


def failstep(message=None):
    if message:
        _message("resultMessage", message=message)
    _sys.exit(1)


def createartifact(path, name=None):
    full = _os.path.abspath(path)
    if name is None:
        name = _os.path.basename(full)
    length = _os.path.getsize(full) if _os.path.isfile(full) else 0
    _message("createArtifact", path=full, name=name, length=str(length))


def updateprogress(progress, message=None):
    _message("progress", percentage=str(progress), message=message or "")


def _category(category, message):
    print("##octopus[stdout-%s]" % category, flush=True)
    print(message, flush=True)
    print("##octopus[stdout-default]", flush=True)


def printverbose(message):
    _category("verbose", message)


def printhighlight(message):
    _category("highlight", message)


def printwait(message):
    _category("wait", message)


def printwarning(message):
    _category("warning", message)


_sys.argv = [_script] + _sys.argv[3:]
_globals = {
    "__name__": "__main__",
    "__file__": _script,
    "__builtins__": __builtins__,
    "get_octopusvariable": get_octopusvariable,
    "set_octopusvariable": set_octopusvariable,
    "failstep": failstep,
    "createartifact": createartifact,
    "updateprogress": updateprogress,
    "printverbose": printverbose,
    "printhighlight": printhighlight,
    "printwait": printwait,
    "printwarning": printwarning,
    "encode": encode,
    "decode": decode,
}
with open(_script, "rb") as _source:
    _code = compile(_source.read(), _script, "exec")
exec(_code, _globals)
"###;

/// Writes `bytes` to a new file at `path` (replacing any file there) that only the
/// step's user (`run_as`, else this process's) can read: 0600.
pub(crate) fn write_private(
    path: &Path,
    bytes: &[u8],
    run_as: Option<(u32, u32)>,
) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)?;
    chown(path, run_as)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }
}
