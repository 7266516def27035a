//! Tables laid out like PowerShell's Format-Table, as the script prints them:
//! a header line, a line of dashes under each header, columns separated by
//! one space, numbers right-aligned, the last column not padded.

use unicode_width::UnicodeWidthStr;

use super::sanitize::for_terminal;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    /// Add a row; cells are sanitised for the terminal here, once.
    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| for_terminal(&c).into_owned())
            .collect();
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut out = String::new();
        let dashes: Vec<String> = self.headers.iter().map(|h| "-".repeat(h.width())).collect();
        let header_cells: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        self.line(&mut out, &header_cells, &widths);
        self.line(&mut out, &dashes, &widths);
        for row in &self.rows {
            self.line(&mut out, row, &widths);
        }
        out
    }

    fn line(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut line = String::new();
        for (i, width) in widths.iter().enumerate() {
            let cell = cells.get(i).map(String::as_str).unwrap_or("");
            let pad = width.saturating_sub(cell.width());
            if i > 0 {
                line.push(' ');
            }
            match self.align[i] {
                Align::Right => {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                }
                Align::Left => {
                    line.push_str(cell);
                    if i + 1 < widths.len() {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_like_format_table() {
        let mut t = Table::new(&[
            ("Name", Align::Left),
            ("Id", Align::Right),
            ("UserName", Align::Left),
        ]);
        t.row(vec![
            "explorer".into(),
            "6816".into(),
            "TESTDOMAIN\\Administrator".into(),
        ]);
        t.row(vec![
            "powershell".into(),
            "2160".into(),
            "TESTDOMAIN\\Administrator".into(),
        ]);
        assert_eq!(
            t.render(),
            "Name         Id UserName\n\
             ----         -- --------\n\
             explorer   6816 TESTDOMAIN\\Administrator\n\
             powershell 2160 TESTDOMAIN\\Administrator\n"
        );
    }

    #[test]
    fn sanitises_cells() {
        let mut t = Table::new(&[("User", Align::Left)]);
        t.row(vec!["bad\x1b]0;pwned\x07".into()]);
        assert!(!t.render().contains('\x1b'));
    }
}
