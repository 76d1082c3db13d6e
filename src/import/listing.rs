//! Reading the user listing that the CSAM web application exports for a site
//! ("De gebruikers exporteren (.csv)" / "Exporter les utilisateurs (.csv)").
//!
//! The export has the columns of the on-screen list: Naam, Voornaam, Gebruikersnaam,
//! Type, INSZ, Status (in French: Nom, Prénom, Nom d'utilisateur, Type, NISS, Statut).
//! What comes out of spreadsheets and the web application varies, so this reader
//! detects rather than assumes:
//!
//! - the encoding: a UTF-8 or UTF-16 byte-order mark; else UTF-8 when the bytes are valid
//!   UTF-8; else Windows-1252 (what Excel on a Belgian Windows writes as "CSV");
//! - the separator: `;` (Excel with Belgian regional settings), `,` or tab, whichever
//!   the header line uses most outside quotes, or the one an Excel `sep=` line names;
//! - the header language, Dutch or French, and the column order.
//!
//! Row numbers are the line numbers of the file (the header is row 1), which is what a
//! spreadsheet shows for a file without line breaks inside quoted values.
//!
//! Pure: bytes in, a [`Listing`] out. Uses `model` for the identifiers and `config` only
//! to mask a mistyped INSZ the way diagnostics do.

use std::collections::HashMap;
use std::fmt;

use crate::config::diagnostic::{mask_text, mask_written_insz};
use crate::model::AccountType;
use crate::model::{Insz, InszError, Username, UsernameError};

/// How the bytes of the CSV were decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (what Excel writes as "CSV UTF-8").
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark (Excel's "Unicode text").
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    Utf16Be,
    /// Windows-1252 (bytes that are not valid UTF-8 and carry no byte-order mark).
    Windows1252,
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with byte-order mark",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Windows1252 => "Windows-1252",
        })
    }
}

/// The language of the header line, which is the interface language of whoever exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLanguage {
    /// Naam, Voornaam, Gebruikersnaam, Type, INSZ, Status.
    Dutch,
    /// Nom, Prénom, Nom d'utilisateur, Type, NISS, Statut.
    French,
}

impl fmt::Display for HeaderLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderLanguage::Dutch => "Dutch",
            HeaderLanguage::French => "French",
        })
    }
}

/// A row that became a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUser {
    /// Row (line) number in the file; the header is row 1.
    pub row: u64,
    /// National register number.
    pub insz: Insz,
    /// CSAM username (lower case).
    pub username: Username,
    /// Naam / Nom.
    pub last_name: String,
    /// Voornaam / Prénom.
    pub first_name: String,
    /// False when the listing says the account is not active.
    pub active: bool,
    /// The Type column: `USER`, or `LB`/`SB` for an administrator account.
    pub kind: AccountType,
}

/// Why a row was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The row is an administrator account (LB or SB), not a user.
    Administrator(AccountType),
    /// The Type column holds something else than LB, SB or USER.
    UnknownType(String),
    /// The INSZ column is empty.
    InszMissing,
    /// The INSZ column is not a valid INSZ (`written` is personal data: shown masked).
    Insz {
        /// As written in the CSV.
        written: String,
        /// What is wrong with it.
        error: InszError,
    },
    /// The username column is empty.
    UsernameMissing,
    /// The username column holds a national register number (columns shifted?).
    UsernameIsInsz,
    /// The username breaks the username rules.
    Username {
        /// As written in the CSV.
        written: String,
        /// What is wrong with it.
        error: UsernameError,
    },
    /// A name column is empty (the header's name of the column).
    NameMissing(&'static str),
    /// The Status column is neither active nor inactive.
    UnknownStatus(String),
    /// The same INSZ and username as an earlier row.
    Duplicate {
        /// The earlier row.
        first_row: u64,
    },
    /// The same INSZ as an earlier row, with another username.
    InszTwice {
        /// The earlier row.
        first_row: u64,
        /// The earlier row's username.
        username: Username,
    },
    /// The same username as an earlier row, with another INSZ.
    UsernameTwice {
        /// The earlier row.
        first_row: u64,
    },
    /// More values than the header has columns (probably a separator inside an unquoted
    /// value), or fewer.
    FieldCount {
        /// Values in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },
    /// The CSV reader could not read the row.
    Malformed(String),
}

impl Skip {
    /// The reason in words. Unless `show_personal_data`, a written INSZ is masked, and so
    /// is anything INSZ-shaped quoted from another column (shifted columns happen).
    pub fn describe(&self, show_personal_data: bool) -> String {
        let text = self.words(show_personal_data);
        if show_personal_data {
            text
        } else {
            mask_text(&text)
        }
    }

    fn words(&self, show_personal_data: bool) -> String {
        match self {
            Skip::Administrator(kind) => {
                let (code, what, key) = match kind {
                    AccountType::LocalAdministrator => (
                        "LB",
                        "the local administrator",
                        "the capacity's `local_administrator`",
                    ),
                    _ => (
                        "SB",
                        "a subdivision or site administrator",
                        "the subdivision's or site's `administrator`",
                    ),
                };
                format!(
                    "type {code}: {what}, not a user; the desired state declares it as {key}, not under `people`"
                )
            }
            Skip::UnknownType(t) => format!("type `{t}` is none of LB, SB, USER"),
            Skip::InszMissing => "no INSZ".to_string(),
            Skip::Insz { written, error } => {
                let shown = if show_personal_data {
                    written.clone()
                } else {
                    mask_written_insz(written)
                };
                format!("INSZ {shown} is not valid: {error}")
            }
            Skip::UsernameMissing => "no username".to_string(),
            Skip::UsernameIsInsz => {
                "the username is a national register number (are the columns shifted?)".to_string()
            }
            Skip::Username { written, error } => format!("username `{written}`: {error}"),
            Skip::NameMissing(column) => format!("no {column}"),
            Skip::UnknownStatus(s) => format!("status `{s}` is neither active nor inactive"),
            Skip::Duplicate { first_row } => format!("the same user as row {first_row}"),
            Skip::InszTwice {
                first_row,
                username,
            } => format!(
                "the same INSZ as row {first_row}, which has username `{username}`: a person has one username"
            ),
            Skip::UsernameTwice { first_row } => format!(
                "the same username as row {first_row}, which has another INSZ: usernames are unique"
            ),
            Skip::FieldCount { found, expected } => format!(
                "{found} values where the header has {expected} columns (a separator inside an unquoted value?)"
            ),
            Skip::Malformed(why) => format!("not readable as CSV: {why}"),
        }
    }
}

/// A row that was not used, and every reason why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRow {
    /// Row (line) number in the file; the header is row 1.
    pub row: u64,
    /// The reasons, at least one.
    pub reasons: Vec<Skip>,
}

/// A CSV listing, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// The separator used.
    pub separator: char,
    /// The language of the header line.
    pub language: HeaderLanguage,
    /// Data rows read (not counting the header and empty rows).
    pub rows: usize,
    /// The rows that became users, in file order.
    pub users: Vec<ListedUser>,
    /// The rows that did not, in file order. Administrator rows (LB, SB) are among them:
    /// they are not `people`.
    pub skipped: Vec<SkippedRow>,
    /// The administrator rows (LB, SB) that could be read, in file order, for a drift
    /// check; each is also in `skipped`.
    pub administrators: Vec<ListedUser>,
}

/// Why a file cannot be read as a user listing at all.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    /// Nothing but white space.
    #[error("the file is empty")]
    Empty,
    /// The header line holds none of `;`, `,` or tab.
    #[error("cannot tell the separator: the first line holds no `;`, `,` or tab")]
    Separator,
    /// The header line lacks columns the import needs.
    #[error("the header has no column {}; its columns are: {}", missing.join(", "), found.join(", "))]
    MissingColumns {
        /// The missing columns, by their Dutch and French names.
        missing: Vec<&'static str>,
        /// The header as written.
        found: Vec<String>,
    },
    /// The header line cannot be read as CSV.
    #[error("cannot read the header line")]
    Header(#[source] csv::Error),
}

/// The columns the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    LastName,
    FirstName,
    Username,
    Type,
    Insz,
    Status,
}

impl Column {
    const ALL: [Column; 6] = [
        Column::LastName,
        Column::FirstName,
        Column::Username,
        Column::Type,
        Column::Insz,
        Column::Status,
    ];

    /// The column's names in Dutch and French, for messages.
    fn names(self) -> &'static str {
        match self {
            Column::LastName => "Naam (Nom)",
            Column::FirstName => "Voornaam (Prénom)",
            Column::Username => "Gebruikersnaam (Nom d'utilisateur)",
            Column::Type => "Type",
            Column::Insz => "INSZ (NISS)",
            Column::Status => "Status (Statut)",
        }
    }

    /// The column a header names, and whether the name is French. Headers are compared
    /// in lower case without accents, so that `Prénom`, `Prenom` and `PRÉNOM` all match.
    fn of_header(header: &str) -> Option<(Column, Option<HeaderLanguage>)> {
        use HeaderLanguage::{Dutch, French};
        let found = match fold(header).as_str() {
            "naam" | "achternaam" | "familienaam" => (Column::LastName, Some(Dutch)),
            "nom" | "nom de famille" => (Column::LastName, Some(French)),
            "last name" => (Column::LastName, None),
            "voornaam" => (Column::FirstName, Some(Dutch)),
            "prenom" => (Column::FirstName, Some(French)),
            "first name" => (Column::FirstName, None),
            "gebruikersnaam" => (Column::Username, Some(Dutch)),
            "nom d'utilisateur" | "nom utilisateur" => (Column::Username, Some(French)),
            "username" | "user name" => (Column::Username, None),
            "type" => (Column::Type, None),
            "insz" | "rijksregisternummer" => (Column::Insz, Some(Dutch)),
            "niss" | "numero de registre national" => (Column::Insz, Some(French)),
            "insz/niss" | "niss/insz" | "ssin" => (Column::Insz, None),
            "status" => (Column::Status, Some(Dutch)),
            "statut" => (Column::Status, Some(French)),
            _ => return None,
        };
        Some(found)
    }
}

/// Lower case, accents dropped, typographic apostrophes made plain, inner white space
/// collapsed: the form in which headers and status values are compared.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars().flat_map(char::to_lowercase) {
            out.push(match c {
                'à' | 'á' | 'â' | 'ä' => 'a',
                'é' | 'è' | 'ê' | 'ë' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'ç' => 'c',
                '\u{2019}' | '\u{2018}' | '`' | '´' => '\'',
                c => c,
            });
        }
    }
    out
}

/// Reads a user listing from the bytes of the exported file.
pub fn read(bytes: &[u8]) -> Result<Listing, ListingError> {
    let (text, encoding) = decode(bytes);
    let (text, separator, first_line) = separator(&text)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(ListingError::Header)?.clone();
    let (columns, language) = header_columns(&header)?;
    let column = |c: Column| columns.get(&c).copied().unwrap_or(usize::MAX);
    // A trailing separator on the header line is not a column a row must fill.
    let header_used = last_used(&header);
    let names = match language {
        HeaderLanguage::Dutch => ["Naam", "Voornaam"],
        HeaderLanguage::French => ["Nom", "Prénom"],
    };

    let mut listing = Listing {
        encoding,
        separator: char::from(separator),
        language,
        rows: 0,
        users: Vec::new(),
        skipped: Vec::new(),
        administrators: Vec::new(),
    };
    let mut by_insz: HashMap<Insz, (u64, Username)> = HashMap::new();
    let mut by_username: HashMap<Username, (u64, Insz)> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let row_before = line_at(text, reader.position().byte()) + first_line;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(err) => {
                listing.rows += 1;
                let row = err
                    .position()
                    .map_or(row_before, |p| line_at(text, p.byte()) + first_line);
                listing.skipped.push(SkippedRow {
                    row,
                    reasons: vec![Skip::Malformed(csv_problem(&err))],
                });
                continue;
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        listing.rows += 1;
        let row = record
            .position()
            .map_or(row_before, |p| line_at(text, p.byte()) + first_line);
        let field = |c: Column| record.get(column(c)).unwrap_or("");
        let mut reasons: Vec<Skip> = field_count(&record, header.len(), header_used)
            .into_iter()
            .collect();
        let kind = account_type(field(Column::Type), &mut reasons);
        let mut shape = reasons.clone();
        let parsed = parse_row(&field, names, &mut reasons);
        if let Some(
            kind @ (AccountType::LocalAdministrator | AccountType::SubdivisionAdministrator),
        ) = kind
        {
            // An administrator is declared elsewhere in the desired state, so for
            // `people` the row is skipped whatever else it holds; a drift check still
            // compares it, when it could be read.
            if let (Some(account), true) = (&parsed, reasons.is_empty()) {
                listing.administrators.push(account.listed(row, kind));
            }
            shape.insert(0, Skip::Administrator(kind));
            listing.skipped.push(SkippedRow {
                row,
                reasons: shape,
            });
            continue;
        }
        let (Some(account), true) = (parsed, reasons.is_empty()) else {
            listing.skipped.push(SkippedRow { row, reasons });
            continue;
        };
        if let Some(reason) = repeated(&by_insz, &by_username, &account) {
            listing.skipped.push(SkippedRow {
                row,
                reasons: vec![reason],
            });
            continue;
        }
        by_insz.insert(account.insz, (row, account.username.clone()));
        by_username.insert(account.username.clone(), (row, account.insz));
        listing.users.push(account.listed(row, AccountType::User));
    }
    Ok(listing)
}

/// Where each column is, and the language of the headers (the one most of them are
/// in); an error naming the columns that are missing.
fn header_columns(
    header: &csv::StringRecord,
) -> Result<(HashMap<Column, usize>, HeaderLanguage), ListingError> {
    let mut columns: HashMap<Column, usize> = HashMap::new();
    let mut french = 0;
    let mut dutch = 0;
    for (i, name) in header.iter().enumerate() {
        if let Some((column, language)) = Column::of_header(name) {
            // The first column of a name wins; a second one (an "Actie" column never
            // matches) is ignored.
            columns.entry(column).or_insert(i);
            match language {
                Some(HeaderLanguage::French) => french += 1,
                Some(HeaderLanguage::Dutch) => dutch += 1,
                None => {}
            }
        }
    }
    let missing: Vec<&'static str> = Column::ALL
        .iter()
        .filter(|c| !columns.contains_key(c))
        .map(|c| c.names())
        .collect();
    if !missing.is_empty() {
        return Err(ListingError::MissingColumns {
            missing,
            found: header.iter().map(str::to_string).collect(),
        });
    }
    let language = if french > dutch {
        HeaderLanguage::French
    } else {
        HeaderLanguage::Dutch
    };
    Ok((columns, language))
}

/// A row with more used fields than the header, or fewer fields than the header uses.
fn field_count(record: &csv::StringRecord, header_len: usize, header_used: usize) -> Option<Skip> {
    let used = last_used(record);
    (used > header_len || record.len() < header_used).then(|| Skip::FieldCount {
        found: if used > header_len {
            used
        } else {
            record.len()
        },
        expected: header_used,
    })
}

/// The account type of a row (the "Type" column); an unknown one is a reason to skip it.
fn account_type(text: &str, reasons: &mut Vec<Skip>) -> Option<AccountType> {
    match fold(text).as_str() {
        "user" | "gebruiker" | "utilisateur" => Some(AccountType::User),
        "lb" => Some(AccountType::LocalAdministrator),
        "sb" => Some(AccountType::SubdivisionAdministrator),
        _ => {
            reasons.push(Skip::UnknownType(text.to_string()));
            None
        }
    }
}

/// The fields of one row, each checked; what is wrong is added to `reasons`.
struct RowFields {
    insz: Insz,
    username: Username,
    last_name: String,
    first_name: String,
    active: bool,
}

impl RowFields {
    fn listed(&self, row: u64, kind: AccountType) -> ListedUser {
        ListedUser {
            row,
            insz: self.insz,
            username: self.username.clone(),
            last_name: self.last_name.clone(),
            first_name: self.first_name.clone(),
            active: self.active,
            kind,
        }
    }
}

/// Reads and checks the identity, name and status columns of a row. Every problem is
/// added to `reasons`; the fields come back only when all of them could be read.
fn parse_row<'r>(
    field: &dyn Fn(Column) -> &'r str,
    names: [&'static str; 2],
    reasons: &mut Vec<Skip>,
) -> Option<RowFields> {
    let insz = match field(Column::Insz) {
        "" => {
            reasons.push(Skip::InszMissing);
            None
        }
        written => match Insz::parse(written) {
            Ok(insz) => Some(insz),
            Err(error) => {
                reasons.push(Skip::Insz {
                    written: written.to_string(),
                    error,
                });
                None
            }
        },
    };
    let username = match field(Column::Username) {
        "" => {
            reasons.push(Skip::UsernameMissing);
            None
        }
        written if Insz::parse(written).is_ok() => {
            reasons.push(Skip::UsernameIsInsz);
            None
        }
        written => match Username::parse(written) {
            Ok(u) => Some(u),
            Err(error) => {
                reasons.push(Skip::Username {
                    written: written.to_string(),
                    error,
                });
                None
            }
        },
    };
    let last_name = field(Column::LastName).to_string();
    if last_name.is_empty() {
        reasons.push(Skip::NameMissing(names[0]));
    }
    let first_name = field(Column::FirstName).to_string();
    if first_name.is_empty() {
        reasons.push(Skip::NameMissing(names[1]));
    }
    let active = status(field(Column::Status), reasons);
    Some(RowFields {
        insz: insz?,
        username: username?,
        last_name,
        first_name,
        active: active?,
    })
}

/// The Status column: active or not.
fn status(written: &str, reasons: &mut Vec<Skip>) -> Option<bool> {
    match fold(written).as_str() {
        "actief" | "actif" | "active" | "aktiv" => Some(true),
        "inactief" | "niet actief" | "non actif" | "inactif" | "inactive" | "gedeactiveerd"
        | "desactive" | "geschorst" | "suspendu" | "suspended" => Some(false),
        _ => {
            reasons.push(Skip::UnknownStatus(written.to_string()));
            None
        }
    }
}

/// Why a row repeats an earlier one, if it does.
fn repeated(
    by_insz: &HashMap<Insz, (u64, Username)>,
    by_username: &HashMap<Username, (u64, Insz)>,
    account: &RowFields,
) -> Option<Skip> {
    if let Some((first_row, earlier)) = by_insz.get(&account.insz) {
        return Some(if *earlier == account.username {
            Skip::Duplicate {
                first_row: *first_row,
            }
        } else {
            Skip::InszTwice {
                first_row: *first_row,
                username: earlier.clone(),
            }
        });
    }
    by_username
        .get(&account.username)
        .map(|(first_row, _)| Skip::UsernameTwice {
            first_row: *first_row,
        })
}

/// The 1-based line on which a record starting at byte `offset` begins. The reader's own
/// line count is not used: after a `\r\n` it reports a record as starting at the `\n`,
/// one line early.
fn line_at(text: &str, offset: u64) -> u64 {
    let bytes = text.as_bytes();
    let mut at = usize::try_from(offset)
        .unwrap_or(bytes.len())
        .min(bytes.len());
    while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
        at += 1;
    }
    bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// The number of fields up to the last non-empty one.
fn last_used(record: &csv::StringRecord) -> usize {
    (0..record.len())
        .rev()
        .find(|&i| record.get(i).is_some_and(|f| !f.is_empty()))
        .map_or(0, |i| i + 1)
}

/// What the CSV reader found wrong, without the row's contents.
fn csv_problem(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "a value is not valid text".to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} values where the header has {expected_len}"),
        _ => "malformed quoting or an unreadable line".to_string(),
    }
}

/// Decodes the bytes: byte-order mark first, then UTF-8 if valid, else Windows-1252.
fn decode(bytes: &[u8]) -> (String, TextEncoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let (text, _) = encoding_rs::UTF_8.decode_without_bom_handling(rest);
        return (text.into_owned(), TextEncoding::Utf8Bom);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(rest);
        return (text.into_owned(), TextEncoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let (text, _) = encoding_rs::UTF_16BE.decode_without_bom_handling(rest);
        return (text.into_owned(), TextEncoding::Utf16Be);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_string(), TextEncoding::Utf8),
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), TextEncoding::Windows1252)
        }
    }
}

/// The separator, and the text from the header line on with the number of lines before
/// it (an Excel `sep=;` line is honoured and skipped).
fn separator(text: &str) -> Result<(&str, u8, u64), ListingError> {
    let Some((index, first)) = text
        .split('\n')
        .enumerate()
        .find(|(_, line)| !line.trim().is_empty())
    else {
        return Err(ListingError::Empty);
    };
    if let Some(sep) = first.trim().strip_prefix("sep=")
        && let [b] = sep.as_bytes()
    {
        let rest = text.splitn(index + 2, '\n').last().unwrap_or("");
        return Ok((rest, *b, index as u64 + 1));
    }
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in first.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(entry) = counts.iter_mut().find(|(s, _)| *s == b) {
            entry.1 += 1;
        }
    }
    // On a tie `;` wins (the last maximum counts): Excel with Belgian regional settings
    // writes it.
    let best = counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .ok_or(ListingError::Separator)?;
    Ok((text, best.0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_NL: &str = "Naam;Voornaam;Gebruikersnaam;Type;INSZ;Status\r\n";

    fn listing(text: &[u8]) -> Listing {
        match read(text) {
            Ok(l) => l,
            Err(e) => panic!("the listing reads: {e}"),
        }
    }

    fn reasons(listing: &Listing) -> Vec<(u64, Vec<Skip>)> {
        listing
            .skipped
            .iter()
            .map(|s| (s.row, s.reasons.clone()))
            .collect()
    }

    #[test]
    fn utf8_bom_semicolons_and_crlf() {
        let text = format!(
            "\u{feff}{HEADER_NL}VERHAEGHE;Koen;koenverhaeghe;USER;680821 305 64;Actief\r\n"
        );
        let l = listing(text.as_bytes());
        assert_eq!(l.encoding, TextEncoding::Utf8Bom);
        assert_eq!(l.separator, ';');
        assert_eq!(l.language, HeaderLanguage::Dutch);
        assert_eq!(l.rows, 1);
        assert_eq!(l.users.len(), 1);
        let u = &l.users[0];
        assert_eq!(u.row, 2);
        assert_eq!(u.insz.compact(), "68082130564");
        assert_eq!(u.username.as_str(), "koenverhaeghe");
        assert_eq!(u.last_name, "VERHAEGHE");
        assert_eq!(u.first_name, "Koen");
        assert!(u.active);
    }

    #[test]
    fn windows_1252_accents_are_decoded() {
        // 0xE9 is `é` in Windows-1252 and invalid on its own in UTF-8.
        let mut bytes = b"Nom;Pr\xe9nom;Nom d'utilisateur;Type;NISS;Statut\n".to_vec();
        bytes.extend_from_slice(b"DUBOIS;C\xe9line;celinedubois;USER;95.05.08-340.92;Actif\n");
        let l = listing(&bytes);
        assert_eq!(l.encoding, TextEncoding::Windows1252);
        assert_eq!(l.language, HeaderLanguage::French);
        assert_eq!(l.users.len(), 1);
        assert_eq!(l.users[0].first_name, "Céline");
    }

    #[test]
    fn valid_utf8_is_not_taken_for_windows_1252() {
        let text = "Nom,Prénom,Nom d’utilisateur,Type,NISS,Statut\n\
                    DUBOIS,Céline,celinedubois,USER,95050834092,Inactif\n";
        let l = listing(text.as_bytes());
        assert_eq!(l.encoding, TextEncoding::Utf8);
        assert_eq!(l.separator, ',');
        assert_eq!(l.language, HeaderLanguage::French);
        assert_eq!(l.users[0].first_name, "Céline");
        assert!(!l.users[0].active);
    }

    #[test]
    fn quoted_fields_may_hold_the_separator_and_quotes() {
        let text = "\"Naam\",\"Voornaam\",\"Gebruikersnaam\",\"Type\",\"INSZ\",\"Status\"\n\
                    \"VAN DE VELDE, JR\",\"Charles \"\"Charlie\"\"\",\"charlesvandevelde\",\"USER\",\"560911 453 68\",\"Actief\"\n";
        let l = listing(text.as_bytes());
        assert_eq!(l.separator, ',');
        assert_eq!(l.skipped, vec![]);
        assert_eq!(l.users[0].last_name, "VAN DE VELDE, JR");
        assert_eq!(l.users[0].first_name, "Charles \"Charlie\"");
    }

    #[test]
    fn columns_are_found_in_any_order_and_extra_columns_ignored() {
        let text = "INSZ;Status;Actie;Gebruikersnaam;Type;Voornaam;Naam\n\
                    68.08.21-305.64;Actief;;koenverhaeghe;USER;Koen;VERHAEGHE\n";
        let l = listing(text.as_bytes());
        assert_eq!(l.users.len(), 1);
        assert_eq!(l.users[0].last_name, "VERHAEGHE");
    }

    #[test]
    fn excel_sep_line_sets_the_separator_and_counts_as_a_row() {
        let text =
            "sep=,\nNaam,Voornaam,Gebruikersnaam,Type,INSZ,Status\nX,;Y;,bad,USER,1,Actief\n";
        let l = listing(text.as_bytes());
        assert_eq!(l.separator, ',');
        assert_eq!(l.skipped.len(), 1);
        assert_eq!(l.skipped[0].row, 3);
    }

    #[test]
    fn utf16_with_bom_is_decoded() {
        let text = format!("{HEADER_NL}VERHAEGHE;Koen;koenverhaeghe;USER;68082130564;Actief\r\n");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let l = listing(&bytes);
        assert_eq!(l.encoding, TextEncoding::Utf16Le);
        assert_eq!(l.users.len(), 1);
    }

    #[test]
    fn bad_rows_are_reported_with_their_row_numbers() {
        let text = format!(
            "{HEADER_NL}\
             VERHAEGHE;Koen;koenverhaeghe;USER;68.08.21-305.64;Actief\r\n\
             VANDENBERGHE;Griet;grietvandenberghe;LB;74.02.21-658.86;Actief\r\n\
             DEVOS;Els;elsdevos;USER;79.10.04-454.87;Actief\r\n\
             \r\n\
             BOSSUYT;Annelies;;USER;91.07.10-090.18;Actief\r\n\
             VERHAEGHE;Koen;koenverhaeghe;USER;680821 305 64;Actief\r\n\
             VANHOUTTE;Tine;tine.v;USER;86.03.18-800.02;Onbekend\r\n\
             PAUWELS;Lieven;lievenpauwels;SB;92.04.12-075.70;Actief\r\n\
             OTHER;Koen;koenverhaeghe;USER;86.03.18-800.02;Actief\r\n\
             ;Jonas;jonasdewaele;BEHEERDER;01.01.02-959.08;Actief\r\n\
             VERHAEGHE;Koen;koenverhaeghe2;USER;68.08.21-305.64;Actief\r\n"
        );
        let l = listing(text.as_bytes());
        assert_eq!(l.rows, 10, "the empty line is not a row");
        assert_eq!(l.users.len(), 1);
        let got = reasons(&l);
        assert_eq!(got.len(), 9);
        assert_eq!(
            got[0],
            (
                3,
                vec![Skip::Administrator(AccountType::LocalAdministrator)]
            )
        );
        assert!(matches!(
            got[1].1.as_slice(),
            [Skip::Insz {
                error: InszError::Checksum { .. },
                ..
            }]
        ));
        assert_eq!(got[1].0, 4);
        assert_eq!(got[2], (6, vec![Skip::UsernameMissing]));
        assert_eq!(got[3], (7, vec![Skip::Duplicate { first_row: 2 }]));
        assert_eq!(got[4].0, 8);
        assert!(matches!(
            got[4].1.as_slice(),
            [Skip::Username { .. }, Skip::UnknownStatus(s)] if s == "Onbekend"
        ));
        assert_eq!(
            got[5],
            (
                9,
                vec![Skip::Administrator(AccountType::SubdivisionAdministrator)]
            )
        );
        assert_eq!(got[6], (10, vec![Skip::UsernameTwice { first_row: 2 }]));
        assert_eq!(
            got[7],
            (
                11,
                vec![
                    Skip::UnknownType("BEHEERDER".to_string()),
                    Skip::NameMissing("Naam")
                ]
            )
        );
        assert!(matches!(
            &got[8],
            (12, reasons) if matches!(reasons.as_slice(), [Skip::InszTwice { first_row: 2, .. }])
        ));
    }

    #[test]
    fn an_insz_in_another_column_is_never_shown() {
        // Regression guard: a shifted row put the INSZ where the username belongs.
        let text = format!(
            "{HEADER_NL}VERHAEGHE;Koen;68082130564;USER;koenverhaeghe;Actief\r\nX;Y;68.08.21-305.64;USER;68082130564;85.07.30-033.28\r\n"
        );
        let l = listing(text.as_bytes());
        assert!(l.users.is_empty());
        assert_eq!(l.skipped[0].reasons[1], Skip::UsernameIsInsz);
        for skipped in &l.skipped {
            for reason in &skipped.reasons {
                let shown = reason.describe(false);
                assert!(!shown.contains("68082130564"), "{shown}");
                assert!(!shown.contains("68.08.21-305"), "{shown}");
                assert!(!shown.contains("85.07.30-033"), "{shown}");
            }
        }
    }

    #[test]
    fn a_bad_insz_is_described_masked() {
        let skip = Skip::Insz {
            written: "79.10.04-454.87".to_string(),
            error: InszError::Checksum {
                found: 87,
                expected_1900: 88,
                expected_2000: None,
            },
        };
        let masked = skip.describe(false);
        assert!(masked.contains("**.**.**-**4.87"), "{masked}");
        assert!(!masked.contains("79.10.04"), "{masked}");
        assert!(skip.describe(true).contains("79.10.04-454.87"));
    }

    #[test]
    fn too_many_values_in_a_row_are_reported() {
        let text =
            format!("{HEADER_NL}VAN;DE VELDE;Charles;charlesvandevelde;USER;56091145368;Actief\n");
        let l = listing(text.as_bytes());
        assert!(l.users.is_empty());
        assert!(matches!(
            l.skipped[0].reasons[0],
            Skip::FieldCount {
                found: 7,
                expected: 6
            }
        ));
    }

    #[test]
    fn a_trailing_separator_is_not_an_extra_value() {
        let text = "Naam;Voornaam;Gebruikersnaam;Type;INSZ;Status;\n\
                    VERHAEGHE;Koen;koenverhaeghe;USER;68082130564;Actief;\n";
        let l = listing(text.as_bytes());
        assert_eq!(l.users.len(), 1, "{:?}", l.skipped);
    }

    #[test]
    fn missing_columns_are_named() {
        let err = read(b"Naam;Voornaam;Type\nX;Y;USER\n");
        match err {
            Err(ListingError::MissingColumns { missing, found }) => {
                assert_eq!(
                    missing,
                    vec![
                        "Gebruikersnaam (Nom d'utilisateur)",
                        "INSZ (NISS)",
                        "Status (Statut)"
                    ]
                );
                assert_eq!(found, vec!["Naam", "Voornaam", "Type"]);
            }
            other => panic!("expected missing columns, got {other:?}"),
        }
    }

    #[test]
    fn empty_and_separatorless_files_are_refused() {
        assert!(matches!(read(b" \r\n"), Err(ListingError::Empty)));
        assert!(matches!(read(b"Naam\nX\n"), Err(ListingError::Separator)));
    }
}
