//! Remote scans: which methods answered, and for each shut door the host
//! setting that decides it.

use crate::model::CoverageResult;

use super::{Align, Table, Writer};

impl Writer<'_> {
    pub(super) fn coverage(&mut self) {
        let entries = &self.snapshot.coverage;
        if entries.is_empty() {
            return;
        }
        let open = entries
            .iter()
            .filter(|e| e.result == CoverageResult::Ok)
            .count();
        self.line("");
        self.line(&format!(
            "Coverage: {open} of {} remote methods answered",
            entries.len()
        ));
        let mut table = Table::new(&[
            ("Method", Align::Left),
            ("Pipe", Align::Left),
            ("Result", Align::Left),
            ("Code", Align::Right),
            ("What decides it", Align::Left),
        ]);
        for entry in entries {
            table.row(vec![
                entry.method.clone(),
                entry.pipe.clone(),
                entry.result.to_string(),
                entry
                    .code
                    .map(|c| format!("0x{:08x}", c as u32))
                    .unwrap_or_default(),
                entry.setting.clone().unwrap_or_default(),
            ]);
        }
        self.out.push_str(&table.render());
    }
}

#[cfg(test)]
mod tests {
    use crate::analyze::{AnalyzeOptions, analyze};
    use crate::model::{CoverageEntry, CoverageResult, HostSnapshot, Platform};
    use crate::report::text::{TextOptions, render};

    #[test]
    fn the_table_shows_each_door_and_strips_what_the_host_sent() {
        let mut snapshot = HostSnapshot::empty("srv", Platform::Unknown, "msrpc");
        let entry = |method: &str, result, setting: Option<&str>| CoverageEntry {
            method: method.to_string(),
            pipe: r"\pipe\x".to_string(),
            result,
            code: (result != CoverageResult::Ok).then_some(0xC000_0022),
            detail: Some("host said \x1b[31mno".to_string()),
            setting: setting.map(str::to_string),
        };
        snapshot.coverage = vec![
            entry("wkssvc NetrWkstaUserEnum", CoverageResult::Ok, None),
            entry(
                "srvsvc NetrSessionEnum",
                CoverageResult::AccessDenied,
                Some("the SrvsvcSessionInfo ACL\x1b[2J"),
            ),
        ];
        let analysis = analyze(&snapshot, &AnalyzeOptions::for_snapshot(&snapshot));
        let text = render(&snapshot, &analysis, TextOptions::default());
        assert!(
            text.contains("Coverage: 1 of 2 remote methods answered"),
            "{text}"
        );
        let denied = text
            .lines()
            .find(|l| l.starts_with("srvsvc NetrSessionEnum"))
            .unwrap();
        assert!(
            denied.contains("access denied") && denied.contains("0xc0000022"),
            "{denied}"
        );
        assert!(
            denied.contains("SrvsvcSessionInfo ACL") && !text.contains('\x1b'),
            "{text}"
        );
    }
}
