//! A bulk `restore --out` killed part-way leaves no partial file under a
//! final name, and `--resume` completes the run: every document present
//! exactly once, identical to an uninterrupted run.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("unspin")
}

fn final_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| !n.starts_with('.'));
    names.sort();
    names
}

#[test]
fn killed_restore_resumes_to_the_same_tree() {
    let root = tempfile::tempdir().unwrap();
    let input = root.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let spun = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/spun-news.txt"),
    )
    .unwrap();
    // Enough work that the kill lands part-way.
    let n = 400;
    for i in 0..n {
        std::fs::write(input.join(format!("doc{i:04}.txt")), spun.repeat(4)).unwrap();
    }

    // The reference: an uninterrupted run.
    let whole = root.path().join("whole");
    let status = Command::new(bin())
        .arg("restore")
        .arg(&input)
        .arg("--out")
        .arg(&whole)
        .args(["-j", "1", "-q"])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(final_files(&whole).len(), n);

    // A run killed (SIGKILL) once some outputs exist.
    let out = root.path().join("out");
    let mut child = Command::new(bin())
        .arg("restore")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["-j", "1", "-q"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while final_files(&out).len() < 20 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = final_files(&out);
    assert!(partial.len() < n, "the run finished before the kill; make the input larger");
    // Every file under a final name is complete.
    for name in &partial {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(whole.join(name)).unwrap(),
            "{name} is partial"
        );
    }

    // --resume completes it; leftover temporary files are not outputs.
    let status = Command::new(bin())
        .arg("restore")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .args(["-j", "2", "-q", "--resume"])
        .status()
        .unwrap();
    assert!(status.success());
    let done = final_files(&out);
    assert_eq!(done, final_files(&whole), "every document exactly once");
    for name in &done {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(whole.join(name)).unwrap(),
            "{name}"
        );
    }
}
