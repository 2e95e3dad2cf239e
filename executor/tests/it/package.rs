//! `Octopus.TentaclePackage`: extraction directory, stage scripts, substitution, failure.

use octopus_executor::{ActionKind, ActionRun, Category};

use crate::common::*;

fn package_step(d: &Dirs, version: &str, entries: &[(&str, &str, u32)]) -> ActionRun {
    let file = zip_file(&d.path(&format!("Acme.Web.{version}.zip")), entries);
    let mut run_ = d.action(ActionKind::Package);
    run_.action_type = "Octopus.TentaclePackage".into();
    run_.packages = vec![staged("", "Acme.Web", version, file, true)];
    run_.variables = vars(&[("Octopus.Action.Name", "Deploy web")]);
    run_
}

const STAGE_SCRIPTS: &[(&str, &str, u32)] = &[
    (
        "PreDeploy.sh",
        "echo \"pre in $(pwd)\"\nset_octopusvariable Stage pre\n",
        0o644,
    ),
    (
        "deploy.SH",
        "echo \"deploy sees $(get_octopusvariable 'Octopus.Action.Package.InstallationDirectoryPath')\"\necho \"earlier output: $(get_octopusvariable 'Octopus.Action[Deploy web].Output.Stage')\"\n",
        0o644,
    ),
    ("PostDeploy.py", "print('post from python')\n", 0o644),
    ("PostDeploy.sh", "echo 'post from bash'\n", 0o644),
    ("site/app.config", "env=#{Env}\n", 0o644),
    ("site/other.config", "keep #{Env}\n", 0o644),
];

#[tokio::test]
async fn stages_run_in_order_in_the_extraction_dir() {
    let d = Dirs::new();
    let (r, lines) = run(package_step(&d, "1.2.3", STAGE_SCRIPTS)).await;
    assert_ok(&r, &lines);
    let dir = d.path("Applications/Production/Acme.Web/1.2.3");
    assert!(dir.join("site/app.config").is_file());
    let info = lines.of(Category::Info);
    let pos = |needle: &str| {
        info.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` missing:\n{}", lines.dump()))
    };
    assert!(pos("pre in") < pos("deploy sees") && pos("deploy sees") < pos("post from bash"));
    assert!(lines.has(&format!("pre in {}", dir.display())));
    assert!(lines.has(&format!("deploy sees {}", dir.display())));
    assert!(lines.has("earlier output: pre"), "{}", lines.dump());
    assert!(!lines.has("post from python"), ".sh wins over .py");
    assert_eq!(
        output(&r, "Octopus.Action.Package.InstallationDirectoryPath"),
        Some(dir.to_string_lossy().as_ref())
    );
    assert_eq!(output(&r, "Package.ExtractedFileCount"), Some("6"));
    assert_eq!(output(&r, "Stage"), Some("pre"));
}

#[tokio::test]
async fn redeploy_gets_a_fresh_directory() {
    let d = Dirs::new();
    let entries = &[("Deploy.sh", "pwd", 0o644)];
    for expected in ["1.0.0", "1.0.0_1", "1.0.0_2"] {
        let mut run_ = package_step(&d, "1.0.0", entries);
        // Each run has its own (empty) work dir.
        let work = d.path(&format!("work-{expected}"));
        std::fs::create_dir(&work).unwrap();
        run_.work_dir = work;
        let (r, lines) = run(run_).await;
        assert_ok(&r, &lines);
        let dir = d.path(&format!("Applications/Production/Acme.Web/{expected}"));
        assert!(lines.has(&dir.to_string_lossy()), "{}", lines.dump());
    }
}

#[tokio::test]
async fn substitute_in_files_before_deploy() {
    let d = Dirs::new();
    let mut run_ = package_step(
        &d,
        "2.0.0",
        &[
            ("site/app.config", "env=#{Env}\n", 0o644),
            ("site/other.config", "keep #{Env}\n", 0o644),
            ("Deploy.sh", "cat site/app.config\n", 0o644),
        ],
    );
    run_.properties.insert(
        "Octopus.Action.EnabledFeatures".into(),
        "Octopus.Features.ConfigurationTransforms,Octopus.Features.SubstituteInFiles".into(),
    );
    run_.properties.insert(
        "Octopus.Action.SubstituteInFiles.TargetFiles".into(),
        "site/app.config\nmissing/*.txt".into(),
    );
    run_.variables.set("Env", "Production");
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    let dir = d.path("Applications/Production/Acme.Web/2.0.0");
    assert!(lines.has("Performing variable substitution on 'site/app.config'"));
    assert!(
        lines.has("No files were found that match the substitution target pattern 'missing/*.txt'")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("site/other.config")).unwrap(),
        "keep #{Env}\n"
    );
    assert!(lines.has("env=Production"), "{}", lines.dump());
    assert_eq!(
        std::fs::read_to_string(dir.join("site/app.config")).unwrap(),
        "env=Production\n"
    );
}

#[tokio::test]
async fn deploy_failure_runs_deploy_failed() {
    let d = Dirs::new();
    let run_ = package_step(
        &d,
        "3.0.0",
        &[
            ("Deploy.sh", "echo deploying\nexit 4\n", 0o644),
            ("PostDeploy.sh", "echo never\n", 0o644),
            ("DeployFailed.sh", "echo rolling back\n", 0o644),
        ],
    );
    let (r, lines) = run(run_).await;
    assert_eq!(
        failure(&r, &lines),
        "Script 'Deploy.sh' returned non-zero exit code: 4. Deployment terminated."
    );
    assert_eq!(r.exit_code, Some(4));
    assert!(lines.has("rolling back"));
    assert!(!lines.has("never"));
}

#[tokio::test]
async fn run_scripts_false_skips_package_scripts() {
    let d = Dirs::new();
    let mut run_ = package_step(&d, "1.0.0", &[("Deploy.sh", "echo ran\n", 0o644)]);
    run_.properties
        .insert("Octopus.Action.Package.RunScripts".into(), "False".into());
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(!lines.has("ran"));
}

#[tokio::test]
async fn configured_custom_scripts_run_around_package_scripts() {
    let d = Dirs::new();
    let mut run_ = package_step(
        &d,
        "1.0.0",
        &[("Deploy.sh", "echo packaged deploy\n", 0o644)],
    );
    run_.properties.insert(
        "Octopus.Action.EnabledFeatures".into(),
        "Octopus.Features.CustomScripts".into(),
    );
    run_.properties.insert(
        "Octopus.Action.CustomScripts.Deploy.sh".into(),
        "echo configured deploy".into(),
    );
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    let info = lines.of(Category::Info);
    let a = info.iter().position(|l| *l == "packaged deploy").unwrap();
    let b = info.iter().position(|l| *l == "configured deploy").unwrap();
    assert!(a < b);
}

#[tokio::test]
async fn unsafe_names_are_cleaned_and_bad_archives_fail() {
    let d = Dirs::new();
    let mut run_ = package_step(&d, "1.0.0", &[("x.txt", "x", 0o644)]);
    run_.environment_name = "../Prod/uction".into();
    let (r, lines) = run(run_).await;
    assert_ok(&r, &lines);
    assert!(
        d.path("Applications/.._Prod_uction/Acme.Web/1.0.0/x.txt")
            .is_file()
    );

    let bad = d.path("evil.1.0.0.zip");
    zip_file(&bad, &[("../escape.txt", "x", 0o644)]);
    let mut run_ = d.action(ActionKind::Package);
    run_.packages = vec![staged("", "evil", "1.0.0", bad, true)];
    let (r, lines) = run(run_).await;
    assert!(failure(&r, &lines).contains("Could not extract package evil 1.0.0"));
    assert!(!d.path("Applications/Production/evil/escape.txt").exists());
}
