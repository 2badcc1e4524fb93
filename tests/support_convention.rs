//! The outside-tool convention itself: a test whose need is unmet is reported as ignored with
//! its reason, or fails under `PORTC_REQUIRE_TOOLS=1`; a met need runs the test.

mod support;

use support::{Need, Test};

/// Set when this binary runs itself to show what the harness does with a missing tool.
const PROBE: &str = "PORTC_CONVENTION_PROBE";

fn main() -> std::process::ExitCode {
    if std::env::var_os(PROBE).is_some() {
        return support::run(vec![Test::new("needs_a_missing_tool", &[Need::Tool("portc-no-such-tool")], || {})]);
    }
    support::run(vec![
        Test::new("a_present_tool_is_found", &[], a_present_tool_is_found),
        Test::new("a_missing_tool_says_why", &[], a_missing_tool_says_why),
        Test::new("a_test_with_a_present_tool_runs", &[Need::Tool("cargo")], a_test_with_a_present_tool_runs),
        Test::new(
            "a_missing_tool_is_ignored_with_its_reason_or_fails",
            &[],
            a_missing_tool_is_ignored_with_its_reason_or_fails,
        ),
    ])
}

fn a_present_tool_is_found() {
    // cargo runs this test, so cargo is on the PATH.
    assert!(support::on_path("cargo"));
    assert_eq!(support::unmet(&[Need::Tool("cargo")]), None);
}

fn a_missing_tool_says_why() {
    let reason = support::unmet(&[Need::Tool("portc-no-such-tool")]).expect("unmet");
    assert!(reason.contains("`portc-no-such-tool` is not installed"), "{reason}");
    let path = support::root().join("no-such-dir");
    let reason = support::unmet(&[Need::Installed(path, "make it")]).expect("unmet");
    assert!(reason.contains("no-such-dir") && reason.contains("make it"), "{reason}");
}

fn a_test_with_a_present_tool_runs() {
    // Reaching here is the test: the harness ran it because cargo is on the PATH.
}

/// Runs this binary again with a test whose tool is missing and reads what the harness printed:
/// ignored with the reason in the summary, or failed when tools are required.
fn a_missing_tool_is_ignored_with_its_reason_or_fails() {
    let me = std::env::current_exe().expect("this test binary");
    for required in [false, true] {
        let mut command = std::process::Command::new(&me);
        command.env(PROBE, "1").arg("--test-threads=1");
        if required {
            command.env("PORTC_REQUIRE_TOOLS", "1");
        } else {
            command.env_remove("PORTC_REQUIRE_TOOLS");
        }
        let output = command.output().expect("the probe runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        if required {
            assert!(!output.status.success(), "a missing tool must fail when tools are required:\n{text}");
            assert!(text.contains("required by PORTC_REQUIRE_TOOLS=1"), "{text}");
        } else {
            assert!(output.status.success(), "{text}");
            assert!(text.contains("needs_a_missing_tool ... ignored (`portc-no-such-tool` is not installed"), "{text}");
            assert!(text.contains("0 passed; 0 failed; 1 ignored"), "{text}");
        }
    }
}
