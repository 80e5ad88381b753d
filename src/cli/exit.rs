//! What a command's work ended with, and the one place that turns it into
//! an exit status.

/// Every cell passed (or the command did what was asked).
pub const EXIT_PASS: u8 = 0;
/// An unexpected divergence, a listed one that now conforms, an
/// interrupted run, a regression, a finding.
pub const EXIT_DIVERGENCE: u8 = 1;
/// Bad input, or a required engine missing.
pub const EXIT_BAD_INPUT: u8 = 2;

/// What a command's work ended with: only what the exit status depends on.
pub enum Finished {
    Run {
        /// Files that could not be loaded (the run went on without them).
        load_errors: usize,
        /// Required engines that were unavailable.
        missing_required: usize,
        interrupted: bool,
        fail: usize,
        fixed: usize,
        /// With `--unanimous`: how many cases the engines disagree on.
        unanimous: Option<usize>,
    },
    Report { check: bool, fail: usize, fixed: usize, interrupted: bool },
    Diff { regressed: bool },
    List { load_errors: usize },
    Bench { failed: bool },
    Probe,
    Fuzz { findings: usize },
    /// An audit observes; with `--expect`, an unmet requirement fails it.
    Audit { unmet: usize },
    /// The internal worker and probe commands, which say their own status.
    Internal(i32),
}

impl Finished {
    /// The exit status, as the README and `--help` document it.
    pub fn status(&self) -> u8 {
        let failed = |yes: bool| if yes { EXIT_DIVERGENCE } else { EXIT_PASS };
        match *self {
            Finished::Run { load_errors, missing_required, .. } if load_errors > 0 || missing_required > 0 => EXIT_BAD_INPUT,
            Finished::Run { interrupted, unanimous: Some(disagree), .. } => failed(interrupted || disagree > 0),
            Finished::Run { interrupted, fail, fixed, .. } => failed(interrupted || fail > 0 || fixed > 0),
            Finished::Report { check, fail, fixed, interrupted } => failed(check && (fail > 0 || fixed > 0 || interrupted)),
            Finished::Diff { regressed } => failed(regressed),
            Finished::List { load_errors } => if load_errors > 0 { EXIT_BAD_INPUT } else { EXIT_PASS },
            Finished::Bench { failed: f } => failed(f),
            Finished::Probe => EXIT_PASS,
            Finished::Fuzz { findings } => failed(findings > 0),
            Finished::Audit { unmet } => failed(unmet > 0),
            Finished::Internal(code) => u8::try_from(code).unwrap_or(EXIT_BAD_INPUT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(load_errors: usize, missing: usize, interrupted: bool, fail: usize, unanimous: Option<usize>) -> u8 {
        Finished::Run { load_errors, missing_required: missing, interrupted, fail, fixed: 0, unanimous }.status()
    }

    #[test]
    fn bad_input_outranks_divergence_and_unanimous_ignores_the_cases() {
        assert_eq!(run(0, 0, false, 0, None), EXIT_PASS);
        assert_eq!(run(0, 0, false, 3, None), EXIT_DIVERGENCE);
        assert_eq!(run(1, 0, false, 3, None), EXIT_BAD_INPUT);
        assert_eq!(run(0, 1, false, 0, None), EXIT_BAD_INPUT);
        assert_eq!(run(0, 0, true, 0, None), EXIT_DIVERGENCE);
        // --unanimous: the cases' expectations do not count, agreement does.
        assert_eq!(run(0, 0, false, 3, Some(0)), EXIT_PASS);
        assert_eq!(run(0, 0, false, 0, Some(2)), EXIT_DIVERGENCE);
        assert_eq!(Finished::Report { check: false, fail: 5, fixed: 0, interrupted: false }.status(), EXIT_PASS);
        assert_eq!(Finished::Report { check: true, fail: 0, fixed: 1, interrupted: false }.status(), EXIT_DIVERGENCE);
    }
}
