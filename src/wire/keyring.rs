//! A keyring file: named ed25519 keys for the coordinator, agents and approvers of local runs, so
//! that a fresh machine gets keys without any setup.
//!
//! The file is JSON, `{"keys": {"<name>": {"secret": "<64 hex>", "public": "<64 hex>"}}}`, written
//! atomically (a temporary file, then a rename) and readable by its owner only on unix.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::WireError;
use super::keys::{generate_key, parse_secret_key, public_hex, secret_hex};

/// Named signing keys persisted at a path.
pub struct Keyring {
    path: PathBuf,
    keys: BTreeMap<String, SigningKey>,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    #[serde(default)]
    keys: BTreeMap<String, KeyEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public: Option<String>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("names", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// Reads the keyring at `path`, or creates an empty one there (and its directory) when there
    /// is no file yet.
    ///
    /// # Errors
    /// [`WireError::Keyring`] when the file cannot be read or written, is not a keyring, or holds
    /// a key that is not a key.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Keyring, WireError> {
        let path = path.as_ref().to_path_buf();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keyring = Keyring {
                    path,
                    keys: BTreeMap::new(),
                };
                keyring.save()?;
                return Ok(keyring);
            }
            Err(e) => return Err(fail(&path, format!("cannot be read: {e}"))),
        };
        // serde_json's messages may quote the file's content: give only the place.
        let file: KeyringFile = serde_json::from_str(&text).map_err(|e| {
            fail(
                &path,
                format!("is not a keyring file (line {}, column {})", e.line(), e.column()),
            )
        })?;
        let mut keys = BTreeMap::new();
        for (name, entry) in file.keys {
            let key = parse_secret_key(&entry.secret)
                .map_err(|e| fail(&path, format!("the key of `{name}` is unreadable: {e}")))?;
            if let Some(public) = &entry.public
                && !public.eq_ignore_ascii_case(&public_hex(&key.verifying_key()))
            {
                return Err(fail(
                    &path,
                    format!("the key of `{name}` does not match its public key"),
                ));
            }
            keys.insert(name, key);
        }
        Ok(Keyring { path, keys })
    }

    /// The key of `name`, created (and remembered until the next [`Keyring::save`]) when the
    /// keyring has none.
    pub fn key(&mut self, name: &str) -> &SigningKey {
        self.keys.entry(name.to_owned()).or_insert_with(generate_key)
    }

    /// The key of `name`, if the keyring has one.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&SigningKey> {
        self.keys.get(name)
    }

    /// The public key of `name`, if the keyring has one.
    #[must_use]
    pub fn public(&self, name: &str) -> Option<VerifyingKey> {
        self.keys.get(name).map(SigningKey::verifying_key)
    }

    /// The names with a key, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Where the keyring is kept.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the keyring to its path: a temporary file next to it (mode 0600 on unix), then a
    /// rename, so that a reader never sees half a file.
    ///
    /// # Errors
    /// [`WireError::Keyring`] when the directory or file cannot be written.
    pub fn save(&self) -> Result<(), WireError> {
        let file = KeyringFile {
            keys: self
                .keys
                .iter()
                .map(|(name, key)| {
                    let entry = KeyEntry {
                        secret: secret_hex(key),
                        public: Some(public_hex(&key.verifying_key())),
                    };
                    (name.clone(), entry)
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).map_err(|e| fail(&self.path, e.to_string()))?;
        text.push('\n');
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|e| fail(&self.path, format!("its directory cannot be created: {e}")))?;
        let tmp = dir.join(temp_name(&self.path));
        let written = write_private(&tmp, text.as_bytes()).and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(fail(&self.path, format!("cannot be written: {e}")));
        }
        Ok(())
    }
}

fn fail(path: &Path, reason: String) -> WireError {
    WireError::Keyring {
        path: path.display().to_string(),
        reason,
    }
}

/// A name for the temporary file, unique within the directory for this process and call.
fn temp_name(path: &Path) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = path
        .file_name()
        .map_or_else(|| "keyring".into(), |n| n.to_string_lossy());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{base}.{}.{n}.tmp", std::process::id())
}

/// Creates (or truncates) `path` readable by its owner only, writes `bytes` and syncs them.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}
