//! The README's examples with their output: every block that shows
//! `$ unspin …` on one of our example texts followed by what it prints is
//! run, and must print exactly that. An example whose output drifts (a
//! new model, another setting) fails here instead of misleading a reader.
//! (The snapshots in `tests/data/snapshots` pin the same outputs for the
//! code; this pins the README to them.)

use std::path::Path;

use assert_cmd::Command;

/// One example: the command's arguments after `unspin`, and the output
/// shown under it.
#[derive(Debug)]
struct Example {
    line: usize,
    args: Vec<String>,
    output: String,
}

/// The examples with output in `readme`: an indented line `$ unspin ARGS`
/// followed directly by indented lines that do not start with `$` (and
/// blank lines between them), up to the first line that is not indented.
/// Only examples on the project's own texts (`examples/`) are taken: the
/// others show the shape of a run on the reader's files. Commands without
/// output shown, or with quoting or shell syntax (not split here), are
/// left out.
fn examples(readme: &str) -> Vec<Example> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(command) = lines[i].strip_prefix("    $ unspin ") else {
            i += 1;
            continue;
        };
        let start = i;
        i += 1;
        let mut output = String::new();
        while i < lines.len() {
            let line = lines[i];
            // A blank line inside the output: markdown keeps an indented
            // block going over it when the next line is indented too.
            let blank_inside = line.is_empty()
                && !output.is_empty()
                && lines
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("    ") && !n.starts_with("    $ "));
            match line.strip_prefix("    ") {
                Some(l) if !l.starts_with("$ ") => output.push_str(l),
                _ if blank_inside => {}
                _ => break,
            }
            output.push('\n');
            i += 1;
        }
        let args: Vec<String> = command.split_whitespace().map(String::from).collect();
        let on_our_examples = args.iter().any(|a| a.starts_with("examples/"));
        let shell_syntax = command.contains(['"', '\'', '#', '|', '>', '\\']);
        if !output.is_empty() && on_our_examples && !shell_syntax {
            out.push(Example { line: start + 1, args, output });
        }
    }
    out
}

#[test]
fn the_readme_examples_print_what_the_readme_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let found = examples(&readme);
    // The score and the restore examples at least: a README that lost
    // them (or a parser that no longer finds them) fails.
    assert!(found.len() >= 2, "found {found:?}");
    for ex in &found {
        let out = Command::cargo_bin("unspin")
            .unwrap()
            .current_dir(root)
            .args(&ex.args)
            .output()
            .unwrap();
        assert!(out.status.success(), "README line {}: {:?} failed", ex.line, ex.args);
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            got,
            ex.output,
            "README line {}: `unspin {}` prints otherwise",
            ex.line,
            ex.args.join(" ")
        );
    }
}

#[test]
fn examples_are_found_with_their_output_only() {
    let readme = "text\n\n    $ unspin score examples/a.txt\n    a.txt: clean\n      detail\n\n    \
                  $ unspin lm stats\n\n    $ unspin lexicon lookup \"x y\"\n    z\n\n    \
                  $ unspin restore examples/b.txt\n    one\n\n    two\n    $ unspin restore examples/c.txt --format diff\n    three\n\nprose\n";
    let found = examples(readme);
    let shown: Vec<(usize, String, &str)> =
        found.iter().map(|e| (e.line, e.args.join(" "), e.output.as_str())).collect();
    assert_eq!(
        shown,
        [
            (3, "score examples/a.txt".to_string(), "a.txt: clean\n  detail\n"),
            (12, "restore examples/b.txt".to_string(), "one\n\ntwo\n"),
            (16, "restore examples/c.txt --format diff".to_string(), "three\n"),
        ]
    );
}
