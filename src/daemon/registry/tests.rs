//! pm2's targeting rules, one case per rule.

use super::*;

fn cands() -> Vec<Candidate> {
    let c = |pm_id, name: &str, namespace: &str, script: &str| Candidate {
        pm_id,
        name: name.into(),
        namespace: namespace.into(),
        script: script.into(),
    };
    vec![
        c(0, "api", "web", "/srv/api/server.js"),
        c(1, "api", "web", "/srv/api/server.js"),
        c(2, "worker", "jobs", "/srv/jobs/worker.js"),
        c(3, "mailer", "jobs", "/srv/jobs/mailer.js"),
        c(4, "7", "default", "/srv/seven.js"),
    ]
}

fn ids(targets: &[&str], cwd: Option<&str>) -> Result<Vec<u32>, Error> {
    let targets: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
    resolve_ids(&cands(), &targets, cwd)
}

#[test]
fn an_id_names_one_process() {
    assert_eq!(ids(&["2"], None), Ok(vec![2]));
    assert_eq!(
        ids(&["9"], None),
        Err(Error::NotFound { target: "9".into() })
    );
}

#[test]
fn a_number_is_a_name_then_a_namespace_then_an_id() {
    // pm2's `_operate` (#1937): `restart 455` means the app named 455 when there is one.
    assert_eq!(ids(&["7"], None), Ok(vec![4]));
    let mut c = cands();
    c.push(Candidate {
        pm_id: 5,
        name: "other".into(),
        namespace: "2".into(),
        script: "/srv/other.js".into(),
    });
    let t = |s: &str| resolve_ids(&c, &[s.to_string()], None);
    assert_eq!(t("2"), Ok(vec![5]), "a namespace named 2 before the id 2");
    assert_eq!(t("3"), Ok(vec![3]), "else the id");
}

#[test]
fn a_name_names_every_instance() {
    assert_eq!(ids(&["api"], None), Ok(vec![0, 1]));
}

#[test]
fn a_namespace_names_its_apps() {
    assert_eq!(ids(&["jobs"], None), Ok(vec![2, 3]));
}

#[test]
fn all_names_everything_or_warns_when_empty() {
    assert_eq!(ids(&["all"], None), Ok(vec![0, 1, 2, 3, 4]));
    assert_eq!(
        resolve_ids(&[], &["all".into()], None),
        Err(Error::NoProcess)
    );
}

#[test]
fn a_regex_matches_names() {
    assert_eq!(ids(&["/^(api|mail)/"], None), Ok(vec![0, 1, 3]));
    assert!(matches!(
        ids(&["/[/"], None),
        Err(Error::InvalidInput { reason }) if reason.starts_with("invalid regex /[/")
    ));
}

#[test]
fn a_script_path_is_relative_to_the_callers_cwd() {
    assert_eq!(ids(&["worker.js"], Some("/srv/jobs")), Ok(vec![2]));
    assert_eq!(
        ids(&["../api/server.js"], Some("/srv/jobs")),
        Ok(vec![0, 1])
    );
    assert_eq!(ids(&["/srv/jobs/mailer.js"], Some("/tmp")), Ok(vec![3]));
    assert_eq!(
        ids(&["worker.js"], Some("/elsewhere")),
        Err(Error::NotFound {
            target: "worker.js".into()
        })
    );
}

#[test]
fn several_targets_give_each_process_once_in_id_order() {
    assert_eq!(
        ids(&["mailer", "api", "0", "jobs"], None),
        Ok(vec![0, 1, 2, 3])
    );
}

#[test]
fn one_unknown_target_fails_the_whole_request() {
    assert_eq!(
        ids(&["api", "nosuch"], None),
        Err(Error::NotFound {
            target: "nosuch".into()
        })
    );
}

fn word(w: &str) -> Vec<u32> {
    start_word_ids(&cands(), w)
}

#[test]
fn start_word_names_a_name_then_a_namespace() {
    assert_eq!(word("api"), vec![0, 1]);
    assert_eq!(word("jobs"), vec![2, 3]);
}

#[test]
fn start_word_all_and_ids_as_pm2() {
    // pm2 7.0.4 `_startScript`: `start all` restarts every process, `start 2` the id 2.
    assert_eq!(word("all"), vec![0, 1, 2, 3, 4]);
    assert_eq!(word("2"), vec![2]);
    assert!(start_word_ids(&[], "all").is_empty());
}

#[test]
fn start_word_is_not_a_full_target() {
    // No error for a miss, and no regex or script path: those mean a script to start.
    assert!(word("web-new").is_empty());
    assert!(word("/api/").is_empty());
    assert!(word("/srv/api/server.js").is_empty());
    assert!(word("9").is_empty());
}
