//! `strata deps` against a package hub served on 127.0.0.1 by the test (index, package JSON
//! and tarballs it builds), git repositories it makes with `git init`, local packages, and
//! lock files the real `dbt deps` wrote (tests/fixtures/deps).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::{repo_root, Run, TestProject};

/// One version of a hub package: its project name, its own packages and its
/// require_dbt_version.
struct Version {
    version: &'static str,
    name: &'static str,
    packages: Value,
    requires: Value,
}

fn v(version: &'static str, name: &'static str) -> Version {
    Version {
        version,
        name,
        packages: json!([]),
        requires: json!([">=1.0.0"]),
    }
}

/// A hub-shaped server: `api/v1/index.json`, `api/v1/<org>/<name>.json`, `tarballs/...`.
struct Hub {
    url: String,
    server: Arc<tiny_http::Server>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// A gzip'd tarball with one top folder holding a package named `name`.
fn tarball(top: &str, name: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(gz);
    for (path, text) in [
        (
            "dbt_project.yml",
            format!("name: {name}\nversion: '1.0.0'\nconfig-version: 2\n"),
        ),
        (
            "macros/m.sql",
            format!("{{% macro {name}_m() %}}1{{% endmacro %}}\n"),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, format!("{top}/{path}"), text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn hub(packages: Vec<(&str, Vec<Version>)>, extra_tarballs: &[(&str, &str, &str)]) -> Hub {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let index: Vec<&str> = packages.iter().map(|(p, _)| *p).collect();
    files.insert(
        "/api/v1/index.json".into(),
        serde_json::to_vec(&index).unwrap(),
    );
    for (package, versions) in &packages {
        let short = package.split('/').nth(1).unwrap();
        let mut all = serde_json::Map::new();
        for ver in versions {
            let path = format!("/tarballs/{short}-{}.tar.gz", ver.version);
            files.insert(
                path.clone(),
                tarball(&format!("{short}-{}", ver.version), ver.name),
            );
            all.insert(ver.version.into(), json!({
                "id": format!("{package}/{}", ver.version), "name": ver.name, "version": ver.version,
                "packages": ver.packages, "require_dbt_version": ver.requires, "works_with": [],
                "downloads": {"tarball": format!("{url}{}", &path[1..]), "format": "tgz", "sha1": "x"},
            }));
        }
        let doc = json!({"name": short, "namespace": "acme", "versions": all});
        files.insert(
            format!("/api/v1/{package}.json"),
            serde_json::to_vec(&doc).unwrap(),
        );
    }
    for (path, top, name) in extra_tarballs {
        files.insert(path.to_string(), tarball(top, name));
    }
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (srv, log) = (server.clone(), requests.clone());
    std::thread::spawn(move || {
        for req in srv.incoming_requests() {
            log.lock().unwrap().push(req.url().to_string());
            let _ = match files.get(req.url()) {
                Some(body) => req.respond(tiny_http::Response::from_data(body.clone())),
                None => req.respond(tiny_http::Response::empty(404)),
            };
        }
    });
    Hub {
        url,
        server,
        requests,
    }
}

/// The hub most tests use: hubpkg 1.2.0 needs hubpkg2 >=0.1.0,<0.2.0; 1.9.0 needs dbt 99;
/// 1.3.0-b1 is a prerelease.
fn standard_hub() -> Hub {
    let needs_hubpkg2 = |mut ver: Version| {
        ver.packages = json!([{"package": "acme/hubpkg2", "version": [">=0.1.0", "<0.2.0"]}]);
        ver.requires = json!([">=1.0.0", "<2.0.0"]);
        ver
    };
    let mut future = v("1.9.0", "hub_pkg");
    future.requires = json!([">=99.0.0"]);
    hub(
        vec![
            (
                "acme/hubpkg",
                vec![
                    v("1.0.0", "hub_pkg"),
                    needs_hubpkg2(v("1.2.0", "hub_pkg")),
                    v("1.3.0-b1", "hub_pkg"),
                    v("2.0.0", "hub_pkg"),
                    future,
                ],
            ),
            (
                "acme/hubpkg2",
                vec![v("0.1.0", "hub_pkg2"), v("0.2.0", "hub_pkg2")],
            ),
        ],
        &[("/tarballs/tpkg.tar.gz", "tpkg-src", "tpkg")],
    )
}

fn deps(p: &TestProject, hub: &Hub, args: &[&str]) -> Run {
    let mut all = vec!["deps"];
    all.extend_from_slice(args);
    p.strata_env(
        &all,
        &[
            ("STRATA_PACKAGE_HUB_URL", &hub.url),
            ("DBT_PACKAGE_HUB_URL", "http://127.0.0.1:9/"),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with `git_pkg` at the top and `git_sub_pkg` in `sub/`, tag v0.1.0 on the
/// first commit, branch `dev` one commit ahead; returns its file:// URL and both SHAs.
fn git_repo(parent: &Path) -> (String, String, String) {
    let dir = parent.join("gitrepo");
    std::fs::create_dir_all(dir.join("sub/macros")).unwrap();
    std::fs::write(
        dir.join("dbt_project.yml"),
        "name: git_pkg\nversion: '0.1.0'\nconfig-version: 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/dbt_project.yml"),
        "name: git_sub_pkg\nversion: '0.1.0'\nconfig-version: 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/macros/g.sql"),
        "{% macro g() %}1{% endmacro %}\n",
    )
    .unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "first"]);
    git(&dir, &["tag", "v0.1.0"]);
    let tagged = git(&dir, &["rev-parse", "HEAD"]);
    git(&dir, &["checkout", "-qb", "dev"]);
    std::fs::write(
        dir.join("sub/macros/h.sql"),
        "{% macro h() %}1{% endmacro %}\n",
    )
    .unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-qm", "second"]);
    let dev = git(&dir, &["rev-parse", "HEAD"]);
    git(&dir, &["checkout", "-q", "main"]);
    (format!("file://{}", dir.display()), tagged, dev)
}

/// A root project with a local package `local_pkg` in `pkgs/local_pkg`.
fn root_project(packages_yml: &str) -> TestProject {
    let p = TestProject::new("root_proj", "");
    p.write(
        "pkgs/local_pkg/dbt_project.yml",
        "name: local_pkg\nversion: '1.0'\nconfig-version: 2\n",
    );
    p.write("packages.yml", packages_yml);
    p
}

fn lines(run: &Run) -> Vec<String> {
    // Drop the time stamp of each line.
    run.stdout
        .lines()
        .map(|l| l.get(10..).unwrap_or("").to_string())
        .collect()
}

#[test]
fn hub_local_and_git_packages_install_with_their_own_packages_and_a_lock() {
    let hub = standard_hub();
    let p = root_project("");
    let (url, tagged, _) = git_repo(p.path());
    p.write("packages.yml", &format!(
        "packages:\n  - package: acme/hubpkg\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - local: pkgs/local_pkg\n  - git: \"{url}\"\n    revision: v0.1.0\n    subdirectory: sub\n"
    ));
    std::fs::create_dir_all(p.path().join("dbt_packages/stale")).unwrap();
    let run = deps(&p, &hub, &[]);
    run.assert_ok();
    let lock_line = format!(
        "Updating lock file in file path: {}",
        p.path()
            .canonicalize()
            .unwrap()
            .join("package-lock.yml")
            .display()
    );
    assert_eq!(
        lines(&run),
        [
            lock_line.as_str(),
            "Installing acme/hubpkg",
            "Installed from version 1.2.0",
            "Updated version available: 2.0.0",
            "Installing pkgs/local_pkg",
            "Installed from <local @ pkgs/local_pkg>",
            &format!("Installing {url}/sub"),
            &format!("Installed from revision {tagged}"),
            "and subdirectory sub",
            "Installing acme/hubpkg2",
            "Installed from version 0.1.0",
            "Updated version available: 0.2.0",
            "",
            "Updates available for packages: ['acme/hubpkg', 'acme/hubpkg2']",
            "Update your versions in packages.yml, then run strata deps",
        ]
    );
    // 1.9.0 is in range but needs dbt 99; the transitive package comes after the declared ones.
    let lock = p.read("package-lock.yml");
    assert!(lock.starts_with(&format!(
        "packages:\n  - name: hub_pkg\n    package: acme/hubpkg\n    version: 1.2.0\n  - local: pkgs/local_pkg\n    name: local_pkg\n  - git: {url}\n    name: git_sub_pkg\n    revision: {tagged}\n    subdirectory: sub\n  - name: hub_pkg2\n    package: acme/hubpkg2\n    version: 0.1.0\nsha1_hash: "
    )), "{lock}");
    let installed = p.path().join("dbt_packages");
    assert!(
        !installed.join("stale").exists(),
        "the install path is emptied first"
    );
    assert!(installed.join("hub_pkg/macros/m.sql").is_file());
    assert!(installed.join("hub_pkg2/dbt_project.yml").is_file());
    assert_eq!(
        std::fs::read_link(installed.join("local_pkg")).unwrap(),
        p.path().canonicalize().unwrap().join("pkgs/local_pkg")
    );
    assert!(installed.join("git_sub_pkg/macros/g.sql").is_file());
    assert!(
        !installed.join("git_sub_pkg/macros/h.sql").exists(),
        "the tag, not the branch"
    );
    assert!(
        !installed.join("git_sub_pkg/sub").exists(),
        "only the subdirectory lands"
    );

    // The lock matches packages.yml: it is trusted, not written again.
    let again = deps(&p, &hub, &[]);
    again.assert_ok();
    assert!(
        !again.stdout.contains("Updating lock file"),
        "{}",
        again.stdout
    );
    assert_eq!(p.read("package-lock.yml"), lock);

    // Without the version check, the highest version in range is 1.9.0.
    let upgraded = deps(&p, &hub, &["--upgrade", "--no-version-check"]);
    upgraded
        .assert_ok()
        .assert_contains("Installed from version 1.9.0");
    assert!(p.read("package-lock.yml").contains("version: 1.9.0"));
    // A lock pinning a version this dbt cannot use fails the next install, as in dbt.
    deps(&p, &hub, &[]).assert_code(2).assert_contains(
        "Could not find a matching compatible version for package acme/hubpkg\n  Requested range: =1.9.0, =1.9.0\n  Compatible versions: ['1.0.0', '1.2.0', '2.0.0']\n\n  Not shown: package versions incompatible with installed version of dbt-core",
    );
    let asked = hub.requests.lock().unwrap().clone();
    assert_eq!(
        asked.first().map(String::as_str),
        Some("/api/v1/index.json"),
        "{asked:?}"
    );
}

#[test]
fn a_lock_written_by_dbt_is_honoured_and_written_again_byte_for_byte() {
    let fixture = repo_root().join("tests/fixtures/deps/dbt_lock_portable");
    let dbt_lock = std::fs::read_to_string(fixture.join("package-lock.yml")).unwrap();
    let p = root_project(&std::fs::read_to_string(fixture.join("packages.yml")).unwrap());
    p.write("package-lock.yml", &dbt_lock);
    // The hub has moved on since dbt wrote the lock (1.2.0 is new): the lock still holds.
    let newer = hub(
        vec![(
            "acme/hubpkg",
            vec![v("1.0.0", "hub_pkg"), v("1.2.0", "hub_pkg")],
        )],
        &[],
    );
    let run = deps(&p, &newer, &[]);
    run.assert_ok();
    assert_eq!(
        lines(&run),
        [
            "Installing acme/hubpkg",
            "Installed from version 1.0.0",
            "Updated version available: 1.2.0",
            "Installing pkgs/local_pkg",
            "Installed from <local @ pkgs/local_pkg>",
            "",
            "Updates available for packages: ['acme/hubpkg']",
            "Update your versions in packages.yml, then run strata deps",
        ]
    );
    assert_eq!(p.read("package-lock.yml"), dbt_lock);
    // Against the hub dbt saw, Strata writes dbt's bytes.
    let same = hub(vec![("acme/hubpkg", vec![v("1.0.0", "hub_pkg")])], &[]);
    p.remove("package-lock.yml");
    std::fs::remove_dir_all(p.path().join("dbt_packages")).unwrap();
    deps(&p, &same, &["--lock"]).assert_ok();
    assert_eq!(p.read("package-lock.yml"), dbt_lock);
    assert!(
        !p.path().join("dbt_packages").exists(),
        "--lock installs nothing"
    );
    // --lock with an up-to-date lock writes and prints nothing.
    let quiet = deps(&p, &same, &["--lock"]);
    quiet.assert_ok();
    assert!(quiet.stdout.trim().is_empty(), "{}", quiet.stdout);
    deps(&p, &newer, &["--upgrade", "--lock"]).assert_ok();
    assert!(p.read("package-lock.yml").contains("version: 1.2.0"));
}

#[test]
fn a_rendered_git_url_is_locked_unrendered_and_rendered_again_to_install() {
    let hub = standard_hub();
    let p = root_project(
        "packages:\n  - git: \"{{ env_var('PKG_GIT_URL') }}\"\n    revision: v0.1.0\n",
    );
    let (url, tagged, _) = git_repo(p.path());
    let env = [
        ("STRATA_PACKAGE_HUB_URL", hub.url.as_str()),
        ("PKG_GIT_URL", url.as_str()),
    ];
    p.strata_env(&["deps", "--lock"], &env).assert_ok();
    // PyYAML quotes the template as this (checked with yaml.dump).
    assert!(p.read("package-lock.yml").starts_with(&format!(
        "packages:\n  - git: '{{{{ env_var(''PKG_GIT_URL'') }}}}'\n    name: git_pkg\n    revision: {tagged}\n"
    )));
    p.strata_env(&["deps"], &env)
        .assert_ok()
        .assert_contains(&format!("Installing {url}"));
    assert!(p
        .path()
        .join("dbt_packages/git_pkg/sub/macros/g.sql")
        .is_file());
}

#[test]
fn git_branches_full_shas_unpinned_warnings_and_a_missing_revision() {
    let hub = standard_hub();
    let p = root_project("");
    let (url, tagged, dev) = git_repo(p.path());
    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: dev\n"),
    );
    deps(&p, &hub, &[])
        .assert_ok()
        .assert_contains(&format!("Installed from revision {dev}"));
    assert!(p
        .read("package-lock.yml")
        .contains(&format!("revision: {dev}\n")));
    assert!(p
        .path()
        .join("dbt_packages/git_pkg/sub/macros/h.sql")
        .is_file());

    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: {tagged}\n"),
    );
    deps(&p, &hub, &[]).assert_ok();
    assert!(!p
        .path()
        .join("dbt_packages/git_pkg/sub/macros/h.sql")
        .exists());

    p.write("packages.yml", &format!("packages:\n  - git: \"{url}\"\n"));
    let unpinned = deps(&p, &hub, &[]);
    unpinned.assert_ok().assert_contains(&format!(
        "[WARNING]: The git package \"{url}\" \n\tis not pinned, using HEAD (default branch).\n\tThis can introduce breaking changes into your project without warning!"
    ));
    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: main\n    warn-unpinned: false\n"),
    );
    let quiet = deps(&p, &hub, &[]);
    quiet.assert_ok();
    assert!(!quiet.output().contains("WARNING"), "{}", quiet.output());

    p.write(
        "packages.yml",
        &format!("packages:\n  - git: \"{url}\"\n    revision: nope\n"),
    );
    deps(&p, &hub, &[]).assert_code(2).assert_contains(&format!(
        "Error checking out spec='nope' for repo {url}\nfatal: couldn't find remote ref nope"
    ));
    p.write("packages.yml", &format!("packages:\n  - git: \"{url}\"\n    revision: dev\n  - git: \"{url}.git\"\n    revision: main\n"));
    deps(&p, &hub, &[]).assert_code(2).assert_contains(&format!(
        "git dependencies should contain exactly one version. {url} contains: {{'dev', 'main'}}"
    ));
}

#[test]
fn version_errors_are_dbts() {
    let hub = standard_hub();
    let p = root_project("packages:\n  - package: acme/hubpkg\n    version: \"3.0.0\"\n");
    deps(&p, &hub, &[]).assert_code(2).assert_contains(
        "Could not find a matching compatible version for package acme/hubpkg\n  Requested range: =3.0.0, =3.0.0\n  Compatible versions: ['1.0.0', '1.2.0', '2.0.0']\n\n  Not shown: package versions incompatible with installed version of dbt-core\n  To include them, run 'strata deps --no-version-check'",
    );
    // The root wants hubpkg2 0.2.0; hubpkg 1.2.0 wants it below 0.2.0.
    p.write("packages.yml", "packages:\n  - package: acme/hubpkg2\n    version: \"0.2.0\"\n  - package: acme/hubpkg\n    version: \"1.2.0\"\n");
    deps(&p, &hub, &[]).assert_code(2).assert_contains(
        "Version error for package acme/hubpkg2: Could not find a satisfactory version from options: ['=0.2.0', '>=0.1.0', '<0.2.0']",
    );
    p.write(
        "packages.yml",
        "packages:\n  - package: acme/nope\n    version: \"1.0.0\"\n",
    );
    deps(&p, &hub, &[])
        .assert_code(2)
        .assert_contains("Package acme/nope was not found in the package index");
    // A prerelease only when asked for.
    p.write("packages.yml", "packages:\n  - package: acme/hubpkg\n    version: [\">1.2.0\", \"<1.9.0\"]\n    install_prerelease: true\n");
    deps(&p, &hub, &["--lock"]).assert_ok();
    assert!(p.read("package-lock.yml").contains("version: 1.3.0-b1"));
    p.write(
        "packages.yml",
        "packages:\n  - package: acme/hubpkg\n    version: 1.0\n",
    );
    deps(&p, &hub, &[])
        .assert_code(2)
        .assert_contains("\"1.0\" is not a valid semantic version.");
}

#[test]
fn add_package_edits_packages_yml_as_dbt_does() {
    let hub = standard_hub();
    let p = TestProject::new("root_proj", "");
    let run = deps(&p, &hub, &["--add-package", "acme/hubpkg2@0.1.0", "--lock"]);
    run.assert_ok().assert_contains("Created packages.yml");
    let file = p.path().canonicalize().unwrap().join("packages.yml");
    run.assert_contains(&format!(
        "Added new package acme/hubpkg2@0.1.0 to {}",
        file.display()
    ));
    assert_eq!(
        p.read("packages.yml"),
        "packages:\n  - package: acme/hubpkg2\n    version: 0.1.0\n"
    );
    assert!(p
        .read("package-lock.yml")
        .contains("package: acme/hubpkg2\n    version: 0.1.0\n"));
    assert!(!p.path().join("dbt_packages").exists());
    let range = deps(&p, &hub, &["--add-package", "acme/hubpkg2@>=0.1.0,<0.3.0"]);
    range.assert_ok().assert_contains("Found duplicate package in packages.yml, removing: {'package': 'acme/hubpkg2', 'version': '0.1.0'}");
    assert_eq!(
        p.read("packages.yml"),
        "packages:\n  - package: acme/hubpkg2\n    version:\n      - '>=0.1.0'\n      - <0.3.0\n"
    );
    range.assert_contains("Installed from version 0.2.0");
    deps(&p, &hub, &["--add-package", "acme/hubpkg"])
        .assert_code(2)
        .assert_contains("Version is required in --add-package when a package when source is hub");
}

#[test]
fn cycles_duplicate_names_and_the_root_name_are_refused() {
    let hub = standard_hub();
    let p = root_project("packages:\n  - local: ./\n");
    deps(&p, &hub, &[])
        .assert_code(2)
        .assert_contains("Package dependencies form a cycle: root_proj -> ./ -> ./");
    p.write("pkgs/a/dbt_project.yml", "name: a\n");
    p.write("pkgs/a/packages.yml", "packages:\n  - local: pkgs/b\n");
    p.write("pkgs/b/dbt_project.yml", "name: b\n");
    p.write("pkgs/b/packages.yml", "packages:\n  - local: pkgs/a\n");
    p.write("packages.yml", "packages:\n  - local: pkgs/a\n");
    deps(&p, &hub, &[])
        .assert_code(2)
        .assert_contains("root_proj -> pkgs/a -> pkgs/b -> pkgs/a");
    p.write("pkgs/copy/dbt_project.yml", "name: local_pkg\n");
    p.write(
        "packages.yml",
        "packages:\n  - local: pkgs/local_pkg\n  - local: pkgs/copy\n",
    );
    deps(&p, &hub, &[]).assert_code(2).assert_contains("Found duplicate project \"local_pkg\". This occurs when a dependency has the same project name as some other dependency.");
    p.write("pkgs/me/dbt_project.yml", "name: root_proj\n");
    p.write("packages.yml", "packages:\n  - local: pkgs/me\n");
    deps(&p, &hub, &[]).assert_code(2).assert_contains(
        "Found a dependency with the same name as the root project \"root_proj\".",
    );
}

#[test]
fn files_rendering_tarballs_and_validation() {
    let hub = standard_hub();
    let p = root_project("packages:\n  - local: \"{{ env_var('LOCAL_PKG_DIR') }}\"\n");
    let run = p.strata_env(
        &["deps"],
        &[
            ("STRATA_PACKAGE_HUB_URL", &hub.url),
            ("LOCAL_PKG_DIR", "pkgs/local_pkg"),
        ],
    );
    run.assert_ok()
        .assert_contains("Installed from <local @ pkgs/local_pkg>");
    // dependencies.yml wins and is not rendered.
    p.write("packages.yml", "{}\n");
    p.write("dependencies.yml", &format!("packages:\n  - tarball: \"{}tarballs/tpkg.tar.gz\"\n    name: tpkg\nprojects:\n  - name: other\n", hub.url));
    deps(&p, &hub, &[]).assert_ok().assert_contains(&format!(
        "Installed from tarball (url: {}tarballs/tpkg.tar.gz)",
        hub.url
    ));
    assert!(p.path().join("dbt_packages/tpkg/macros/m.sql").is_file());
    p.write("packages.yml", "packages:\n  - local: pkgs/local_pkg\n");
    deps(&p, &hub, &[]).assert_code(2).assert_contains(
        "The 'packages' key cannot be specified in both packages.yml and dependencies.yml",
    );
    p.remove("dependencies.yml");
    p.write(
        "packages.yml",
        "packages:\n  - local: pkgs/local_pkg\n    foo: 1\n",
    );
    deps(&p, &hub, &[]).assert_code(2).assert_contains("The packages.yml file in this project is malformed.")
        .assert_contains("{'local': 'pkgs/local_pkg', 'foo': 1, 'unrendered': {'local': 'pkgs/local_pkg', 'foo': 1}} is not valid under any of the given schemas");
    p.write("packages.yml", "packages: []\n");
    let none = deps(&p, &hub, &[]);
    none.assert_ok();
    assert_eq!(
        none.stdout
            .matches("Warning: No packages were found in packages.yml")
            .count(),
        2
    );
    // packages-install-path from the project file.
    p.write(
        "project.yml",
        "name: root_proj\npackages-install-path: vendor\n",
    );
    p.write("packages.yml", "packages:\n  - local: pkgs/local_pkg\n");
    deps(&p, &hub, &[]).assert_ok();
    assert!(p.path().join("vendor/local_pkg").exists());
}
