//! RFC 4180 records, as exchanges write them: fields separated by commas; a field in double
//! quotes may hold commas (`"1,234.5"`), line breaks and doubled quotes (`""` is one `"`);
//! lines end in LF or CRLF. The `csv` crate is not a dependency and this is all we need of it.

/// One record and the file line it starts on (a quoted line break makes it span more).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A record that is not valid CSV.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CsvError {
    pub line: usize,
    pub problem: String,
}

#[derive(Clone, Copy, PartialEq)]
enum At {
    FieldStart,
    Unquoted,
    Quoted,
    AfterQuote,
}

/// The records of `text`, whose first line is line `first_line` of the file. Blank lines are no
/// records (exports end with one, some have one between sections).
pub(super) fn records(text: &str, first_line: usize) -> Result<Vec<Record>, CsvError> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = first_line;
    let mut start = first_line;
    let mut quoted_any = false;
    let mut at = At::FieldStart;
    let mut chars = text.chars().peekable();
    let mut end_record =
        |fields: &mut Vec<String>, field: &mut String, quoted_any: bool, start: usize| {
            fields.push(std::mem::take(field));
            let blank = !quoted_any && fields.len() == 1 && fields[0].trim().is_empty();
            let done = std::mem::take(fields);
            if !blank {
                out.push(Record {
                    line: start,
                    fields: done,
                });
            }
        };
    while let Some(c) = chars.next() {
        match (at, c) {
            (At::Quoted, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (At::Quoted, '"') => at = At::AfterQuote,
            (At::Quoted, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (_, ',') => {
                fields.push(std::mem::take(&mut field));
                at = At::FieldStart;
            }
            (_, '\r') if chars.peek() == Some(&'\n') => {}
            (_, '\n') => {
                end_record(&mut fields, &mut field, quoted_any, start);
                line += 1;
                start = line;
                quoted_any = false;
                at = At::FieldStart;
            }
            (At::FieldStart, '"') => {
                at = At::Quoted;
                quoted_any = true;
            }
            (At::AfterQuote, c) => {
                return Err(CsvError {
                    line,
                    problem: format!(
                        "{} after the closing quote of a field: a quoted field must end at a \
                         comma or the end of the line (write a quote inside it as \"\")",
                        crate::domain::describe_char(c)
                    ),
                });
            }
            // a quote inside an unquoted field is kept as written, as most CSV readers do
            (_, c) => {
                field.push(c);
                at = At::Unquoted;
            }
        }
    }
    if at == At::Quoted {
        return Err(CsvError {
            line: start,
            problem: "a quoted field is never closed (a \" is missing)".into(),
        });
    }
    if at != At::FieldStart || !field.is_empty() || !fields.is_empty() {
        end_record(&mut fields, &mut field, quoted_any, start);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text, 1)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn quotes_commas_doubled_quotes_and_line_breaks() {
        let got = records(
            "a,\"1,234.5\",\"say \"\"hi\"\"\"\r\n\r\nx,\"two\nlines\",\n",
            3,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].line, 3);
        assert_eq!(got[0].fields, ["a", "1,234.5", "say \"hi\""]);
        assert_eq!(got[1].line, 5);
        assert_eq!(got[1].fields, ["x", "two\nlines", ""]);
        assert_eq!(fields("a,b"), [["a", "b"]]);
        assert_eq!(fields("\"\""), [[""]]);
        assert_eq!(fields("5\"x,y"), [["5\"x", "y"]]);
    }

    #[test]
    fn broken_quoting_is_named_by_line() {
        let e = records("a,b\n\"open,c\nd\n", 1).err();
        assert_eq!(e.map(|e| e.line), Some(2));
        let e = records("a\n\"x\"y,b\n", 1).err();
        assert_eq!(e.map(|e| e.line), Some(2));
    }
}
