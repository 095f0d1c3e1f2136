//! Every runbook we ship passes `drydock check`, and `drydock plan` prints the
//! commands an admin expects to see.

mod common;

use common::*;

const SHIPPED: &[&str] = &[
    "config.example.toml",
    "examples/local.toml",
    "examples/flowspy.toml",
    "examples/synnefo.toml",
    "examples/djangoplicity.toml",
    "examples/djnro.toml",
];

fn repo(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn every_shipped_runbook_passes_check() {
    for rel in SHIPPED {
        let out = drydock()
            .arg("check")
            .arg(repo(rel))
            .output()
            .expect("check");
        assert_eq!(code(&out), 0, "{rel}: {}", describe(&out));
        assert!(stdout(&out).contains(": ok:"), "{rel}: {}", stdout(&out));
        // Where they need root they say sudo = true, and call no sudo themselves.
        assert!(
            stderr(&out).is_empty(),
            "{rel} has warnings: {}",
            stderr(&out)
        );
    }
}

fn plan(rel: &str, args: &[&str]) -> String {
    let out = drydock()
        .arg("plan")
        .arg(repo(rel))
        .args(args)
        .output()
        .expect("plan");
    assert_eq!(code(&out), 0, "{rel}: {}", describe(&out));
    stdout(&out)
}

/// `needles` appear in the plan, in this order.
fn assert_in_order(text: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match text[from..].find(needle) {
            Some(i) => from += i + needle.len(),
            None => panic!("'{needle}' missing (or out of order) in the plan:\n{text}"),
        }
    }
}

#[test]
fn coralnet_plan_shows_the_update_in_order() {
    let text = plan("config.example.toml", &["--var", "site=/srv/cn"]);
    assert_in_order(
        &text,
        &[
            "banner-on",
            "[gate]",
            "banner on: /srv/coralnet/maintenance.json: CoralNet will go down for an update at <starts_at>",
            "wait-for-start",
            "robot-idle",
            "[guard]",
            "guard: file_absent /cnhome/images/robot_running_flag (poll 30s, timeout 72h00m)",
            "stop-server",
            "[sudo]",
            "web: $ sudo -S -p '[drydock: sudo password for %p]' -- sh -c 'echo :drydock-sudo-ok: >&2; apachectl stop'",
            "fetch",
            "web: $ git -C /srv/cn fetch origin",
            "record-head",
            "web: $ git -C /srv/cn rev-parse HEAD",
            "rebase",
            "web: preview: git -C /srv/cn log --oneline HEAD..origin/master",
            "git -C /srv/cn rebase origin/master",
            "web: undo: git -C /srv/cn reset --hard <old_head>",
            "requirements",
            "[when]",
            "-- requirements.txt",
            "-m pip install -r /srv/cn/requirements.txt",
            "collectstatic",
            "manage.py collectstatic --noinput",
            "backup-db",
            "pg_dump",
            "web: undo: pg_restore",
            "migrate",
            "showmigrations --plan",
            "manage.py migrate --noinput",
            "start-server",
            "[always]",
            "web: $ sudo -S -p",
            "apachectl start'",
            "site-answers",
            "http: GET http://127.0.0.1:80/ via web expect 200 containing 'CoralNet'",
            "try-it",
            "manual: Open the site",
            "banner-off",
            "banner off: /srv/coralnet/maintenance.json",
        ],
    );
}

#[test]
fn flowspy_plan_dumps_first_and_restarts_celery_last() {
    let text = plan("examples/flowspy.toml", &[]);
    assert_in_order(
        &text,
        &[
            "$ sudo -S -p",
            "systemctl stop flowspy-celery flowspy-celerybeat'",
            "manage.py dumpdata --natural-foreign --indent 1 -o /var/backups/flowspy/flowspy-<run_id>.json",
            "git -C /srv/flowspy merge --ff-only origin/master",
            "pip install -r /srv/flowspy/requirements.txt",
            "preview: cd /srv/flowspy && diff -u flowspy/settings.py flowspy/settings.py.dist",
            "manual: Edit /srv/flowspy/flowspy/settings.py",
            "manage.py migrate --noinput",
            "manage.py collectstatic --noinput",
            "$ sudo -S -p",
            "systemctl start flowspy-celery flowspy-celerybeat'",
        ],
    );
}

#[test]
fn synnefo_plan_rolls_node_by_node_then_the_services() {
    let text = plan("examples/synnefo.toml", &[]);
    assert_in_order(
        &text,
        &[
            "take-out",
            "[rolling: nodes]",
            "node1: $ sudo -S -p",
            "snf-manage node-modify --drained=True node1'",
            "node2: $ sudo -S -p",
            "snf-manage node-modify --drained=True node2'",
            "check-node",
            "node1: http: GET http://127.0.0.1:80/ via node1",
            "node2: http: GET http://127.0.0.1:80/ via node2",
            "put-back",
            "services-down",
            "migrate",
            "node1: $ cd /srv/synnefo && snf-manage migrate --noinput",
            "services-up",
        ],
    );
    assert!(
        !text.contains("node2: $ cd /srv/synnefo && snf-manage migrate"),
        "migrate runs on one node"
    );
}

#[test]
fn djangoplicity_plan_stops_cron_first_and_starts_it_last() {
    let text = plan("examples/djangoplicity.toml", &["--host", "web2"]);
    assert_in_order(
        &text,
        &[
            "cron-off",
            "web2: $ sudo -S -p",
            "systemctl stop cron'",
            "[rolling: web]",
            "web2: $ sudo -S -p",
            "touch /var/www/lb-out'",
            "cron-on",
            "web2: $ sudo -S -p",
            "systemctl start cron'",
        ],
    );
    assert!(
        !text.contains("web1:"),
        "--host web2 leaves web1 out:\n{text}"
    );
}

#[test]
fn djnro_plan_dumps_on_the_old_host_and_loads_on_the_new() {
    let text = plan("examples/djnro.toml", &[]);
    assert_in_order(
        &text,
        &[
            "old: $ mkdir -p $(dirname /var/backups/djnro/djnro-dump.json) && cd /srv/djnro && /srv/djnro/venv/bin/python manage.py dumpdata",
            "new: $ mkdir -p",
            "scp old.example.org:",
            "new: $ cd /srv/djnro && /srv/djnro/venv/bin/python manage.py migrate --noinput edumanage 0001",
            "new: $ cd /srv/djnro && /srv/djnro/venv/bin/python manage.py loaddata /var/backups/djnro/djnro-dump.json",
            "new: $ git -C /srv/djnro fetch -q origin && git -C /srv/djnro merge --ff-only origin/master",
            "migrate --noinput --fake-initial",
        ],
    );
}
