//! Key parsing in its text forms, and the keyring file.

use pretty_assertions::assert_eq;

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn keys_parse_from_hex_and_der() {
    let secret = key(9);
    let public = secret.verifying_key();
    let sh = secret_hex(&secret);
    let ph = public_hex(&public);
    let secret_forms = [
        sh.clone(),
        format!("0x{sh}"),
        sh.to_uppercase(),
        format!("302e020100300506032b657004220420{sh}"),
        format!("  302E020100300506032B657004220420{sh}\n"),
    ];
    for text in &secret_forms {
        assert_eq!(parse_secret_key(text).expect("a private key"), secret, "{text}");
    }
    for text in [ph.clone(), format!("0x{ph}"), format!("302a300506032b6570032100{ph}")] {
        assert_eq!(parse_public_key(&text).expect("a public key"), public, "{text}");
    }
    let bad: Vec<(String, &str)> = vec![
        (sh[..63].to_owned(), "not 63 characters"),
        (format!("{sh}0"), "not 65 characters"),
        (String::new(), "empty"),
        (format!("{}g", &sh[..63]), "not hexadecimal"),
        (format!("302a300506032b6570032100{sh}"), "not 88 characters"),
        (
            format!("302e020100300506032b657004220421{sh}"),
            "not its ed25519 prefix",
        ),
    ];
    for (text, want) in &bad {
        let reason = parse_secret_key(text).expect_err("not a private key").reason();
        assert!(
            reason.starts_with("key: ") && reason.contains(want),
            "`{reason}` lacks `{want}`"
        );
        assert!(!reason.contains(&sh[..16]), "{reason} leaks the key");
    }
    let reason = parse_public_key(&format!("302e020100300506032b657004220420{ph}"))
        .expect_err("not a public key")
        .reason();
    assert!(reason.contains("not 96 characters"), "{reason}");
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-wire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn keyring_creates_saves_and_reloads() {
    let dir = scratch("keyring");
    let path = dir.join("nested").join("keys.json");
    let mut ring = Keyring::load_or_create(&path).expect("keyring");
    assert!(path.exists());
    assert_eq!(ring.names().count(), 0);
    let coordinator = ring.key("coordinator").clone();
    let agent = ring.key("agent-a").clone();
    assert_eq!(ring.key("coordinator"), &coordinator);
    assert_ne!(coordinator, agent);
    ring.save().expect("saved");

    let mut again = Keyring::load_or_create(&path).expect("keyring");
    assert_eq!(again.names().collect::<Vec<_>>(), ["agent-a", "coordinator"]);
    assert_eq!(again.get("coordinator"), Some(&coordinator));
    assert_eq!(again.public("agent-a"), Some(agent.verifying_key()));
    assert_eq!(again.key("agent-a"), &agent);
    assert!(format!("{again:?}").contains("agent-a") && !format!("{again:?}").contains(&secret_hex(&agent)));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("keyring file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("a directory"))
        .expect("readable")
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind");

    std::fs::write(
        &path,
        format!(
            "{{\"keys\": {{\"x\": {{\"secret\": 5, \"s\": \"{}\"}}}}",
            secret_hex(&agent)
        ),
    )
    .expect("written");
    let reason = Keyring::load_or_create(&path).expect_err("bad keyring").reason();
    assert!(
        reason.contains("is not a keyring file") && !reason.contains(&secret_hex(&agent)),
        "{reason}"
    );
    std::fs::write(&path, r#"{"keys": {"x": {"secret": "abc"}}}"#).expect("written");
    let reason = Keyring::load_or_create(&path).expect_err("bad keyring").reason();
    assert!(reason.contains("the key of `x`") && !reason.contains("abc"), "{reason}");
    let _ = std::fs::remove_dir_all(&dir);
}
