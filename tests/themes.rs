//! Themes through the binary: every bad theme file in tests/invalid_themes is
//! refused with its file, line and column; `drydock themes` lists the built-in
//! and the user's themes.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn drydock() -> Command {
    Command::cargo_bin("drydock").unwrap_or_else(|e| panic!("{e}"))
}

fn bad_theme(file: &str, expected: &str) {
    let path = format!("tests/invalid_themes/{file}");
    drydock()
        .args([
            "run",
            "tests/tui/local.toml",
            "--headless",
            "--theme",
            &path,
        ])
        .assert()
        .code(2)
        .stderr(contains(format!("{path}:{expected}")));
}

#[test]
fn a_colour_that_does_not_exist() {
    bad_theme("bad_colour.toml", "3:9: 'blurple' is not a colour");
}

#[test]
fn an_unknown_role() {
    bad_theme("unknown_role.toml", "3:1:");
}

#[test]
fn broken_toml() {
    bad_theme("broken_toml.toml", "2:");
}

#[test]
fn a_colour_that_is_not_a_string() {
    bad_theme("not_a_string.toml", "2:6:");
}

#[test]
fn an_unknown_theme_name_lists_the_known_ones() {
    drydock()
        .args([
            "run",
            "tests/tui/local.toml",
            "--headless",
            "--theme",
            "nope",
        ])
        .assert()
        .code(2)
        .stderr(contains(
            "no theme 'nope'; themes are: dark, light, high-contrast",
        ));
}

#[test]
fn themes_lists_built_in_and_user_themes() {
    let config = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = config.path().join("drydock/themes");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("solar.toml"), "[colors]\nok = \"#859900\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    drydock()
        .arg("themes")
        .env("XDG_CONFIG_HOME", config.path())
        .assert()
        .success()
        .stdout(
            contains("dark")
                .and(contains("(default)"))
                .and(contains("light"))
                .and(contains("high-contrast"))
                .and(contains("solar")),
        );
    std::fs::write(dir.join("broken.toml"), "[colors]\nok = \"nocolour\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    drydock()
        .arg("themes")
        .env("XDG_CONFIG_HOME", config.path())
        .assert()
        .code(2)
        .stdout(contains("broken.toml:2:6: 'nocolour' is not a colour"));
}
