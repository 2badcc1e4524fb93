//! The outside-tool convention itself: present tools run, missing ones skip or fail as configured.

mod support;

#[test]
fn a_present_tool_is_available() {
    // cargo runs this test, so cargo is on the PATH.
    assert!(support::tool_available("cargo"));
}

#[test]
fn a_missing_tool_skips_or_fails_as_configured() {
    let required = std::env::var("PORTC_REQUIRE_TOOLS").is_ok_and(|v| v == "1");
    let result = std::panic::catch_unwind(|| support::tool_available("portc-no-such-tool"));
    match result {
        Ok(available) => {
            assert!(!required, "a missing tool must fail when tools are required");
            assert!(!available);
        }
        Err(_) => assert!(required, "a missing tool must only fail when tools are required"),
    }
}
