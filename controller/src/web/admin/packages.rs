//! Packages: `/admin/packages` (list + new), `/admin/packages/{id}` (edit, archive). The form
//! takes human units (`1 h`, `30 min`, `1 GB`, `2M/5M`) and a price like `1.50`; the values go
//! to the API's `create_package` / `update_package` as text, parsed there by
//! `shared::units`'s human forms, so a bad value comes back naming its field, shown next to it.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hotspot_shared::domain::{Currency, PackageId};
use hotspot_ui::Layout;
use hotspot_ui::fmt::{bytes, duration};
use serde::Deserialize;

use super::common::{Done, FormError, api_admin};
use crate::api::extract::{JsonBody, PathParam, store_err};
use crate::api::packages::{HumanValue, PackageRequest};
use crate::app::AppState;
use crate::store::PackageRecord;
use crate::web::error::{PageResult, WebError, redirect};
use crate::web::layout::layout_for;
use crate::web::render::render;
use crate::web::session::{AdminViewer, CsrfForm};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/packages", get(list).post(create))
        .route("/admin/packages/{id}", get(edit).post(update))
}

/// A package in the list, in words.
pub struct PackageLine {
    pub id: u64,
    pub name: String,
    pub price: String,
    pub time_limit: String,
    pub data_limit: String,
    pub validity: String,
    pub rate_limit: String,
    pub shared_users: u32,
    pub archived: bool,
}

impl From<&PackageRecord> for PackageLine {
    fn from(r: &PackageRecord) -> PackageLine {
        let p = &r.package;
        let or_dash = |s: Option<String>| s.unwrap_or_else(|| "–".to_owned());
        PackageLine {
            id: p.id.0,
            name: p.name.clone(),
            price: p.price.to_string(),
            time_limit: or_dash(p.time_limit.map(|d| duration(d.as_secs()))),
            data_limit: or_dash(p.data_limit.map(bytes)),
            validity: or_dash(p.validity.map(|d| duration(d.as_secs()))),
            rate_limit: or_dash(p.rate_limit.clone()),
            shared_users: p.shared_users,
            archived: r.archived,
        }
    }
}

/// The package form as typed.
#[derive(Debug, Default, Deserialize)]
pub struct PackageForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub price: String,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub time_limit: String,
    #[serde(default)]
    pub data_limit: String,
    #[serde(default)]
    pub validity: String,
    #[serde(default)]
    pub rate_limit: String,
    #[serde(default)]
    pub shared_users: String,
    #[serde(default)]
    pub profile: String,
    /// Only on edit: the "on sale" checkbox (`on` when ticked).
    pub on_sale: Option<String>,
}

impl PackageForm {
    /// The stored package as the form shows it (human units).
    fn of(r: &PackageRecord) -> PackageForm {
        let p = &r.package;
        PackageForm {
            name: p.name.clone(),
            price: price_text(p.price.minor, &p.price.currency),
            currency: p.price.currency.as_str().to_owned(),
            time_limit: p
                .time_limit
                .map(|d| duration_input(d.as_secs()))
                .unwrap_or_default(),
            data_limit: p.data_limit.map(bytes_input).unwrap_or_default(),
            validity: p
                .validity
                .map(|d| duration_input(d.as_secs()))
                .unwrap_or_default(),
            rate_limit: p.rate_limit.clone().unwrap_or_default(),
            shared_users: p.shared_users.to_string(),
            profile: p.profile.clone(),
            on_sale: (!r.archived).then(|| "on".to_owned()),
        }
    }

    /// The API's request, or the field at fault.
    fn request(&self, archived: Option<bool>) -> Result<PackageRequest, FormError> {
        let currency = Currency::new(self.currency.trim()).map_err(|_| {
            FormError::new(
                "currency",
                "The currency is a three-letter ISO code, e.g. USD, EUR, KES",
            )
        })?;
        let text = |s: &str| {
            let t = s.trim();
            (!t.is_empty()).then(|| HumanValue::Text(t.to_owned()))
        };
        let shared_users = match self.shared_users.trim() {
            "" => None,
            t => Some(t.parse::<u32>().map_err(|_| {
                FormError::new(
                    "shared_users",
                    "Devices per voucher is a whole number, 1 or more",
                )
            })?),
        };
        let profile = self.profile.trim();
        Ok(PackageRequest {
            name: self.name.trim().to_owned(),
            price_minor: parse_price(&self.price, &currency)?,
            currency: currency.as_str().to_owned(),
            time_limit: text(&self.time_limit),
            data_limit_bytes: text(&self.data_limit),
            validity: text(&self.validity),
            rate_limit: Some(self.rate_limit.trim().to_owned()).filter(|r| !r.is_empty()),
            shared_users,
            profile: (!profile.is_empty()).then(|| profile.to_owned()),
            archived,
        })
    }
}

/// `1 h 30 min` as the human parser reads it back (`1h 30m`).
fn duration_input(secs: u64) -> String {
    duration(secs)
        .replace(" min", "m")
        .replace(" h", "h")
        .replace(" d", "d")
        .replace(" w", "w")
        .replace(" s", "s")
}

/// Bytes in the 1024-based form the parser reads (`1 GiB` → `1G`), else the plain count.
fn bytes_input(n: u64) -> String {
    for (size, unit) in [
        (1u64 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "k"),
    ] {
        if n >= size && n.is_multiple_of(size) {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// `1.50` in minor units of `currency` (as many decimals as the currency has, at most).
pub fn parse_price(text: &str, currency: &Currency) -> Result<i64, FormError> {
    let bad = || {
        let places = currency.exponent();
        let example = if places == 0 {
            "5000".to_owned()
        } else {
            format!("1.{}", "5".repeat(places as usize))
        };
        FormError::new(
            "price",
            format!(
                "The price is a number like {example} ({} takes {places} decimal place(s))",
                currency.as_str()
            ),
        )
    };
    let t = text.trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    let places = currency.exponent() as usize;
    if whole.is_empty()
        || whole.len() > 12
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > places
        || (t.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let scale = 10i64.pow(currency.exponent());
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<places$}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

/// Minor units as the form shows them (`150` USD → `1.50`).
pub fn price_text(minor: i64, currency: &Currency) -> String {
    let places = currency.exponent();
    if places == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(places);
    format!(
        "{}.{:0width$}",
        minor / scale,
        (minor % scale).abs(),
        width = places as usize
    )
}

#[derive(Template)]
#[template(path = "admin/packages.html")]
struct ListPage {
    layout: Layout,
    packages: Vec<PackageLine>,
    form: PackageForm,
    error: FormError,
}

const DONE: &[(&str, &str)] = &[
    ("created", "The package was created; staff can sell it now."),
    (
        "saved",
        "The package was saved. Vouchers already sold keep their limits.",
    ),
];

fn list_page(
    state: &AppState,
    admin: &AdminViewer,
    form: PackageForm,
    error: FormError,
    done: &Done,
) -> PageResult {
    let mut packages = state.store.packages(true).map_err(store_err)?;
    packages.sort_by_key(|p| (p.archived, p.package.id));
    let status = error.status();
    let page = ListPage {
        layout: layout_for(admin, "Packages").with_flash(done.flash(DONE)),
        packages: packages.iter().map(PackageLine::from).collect(),
        form,
        error,
    };
    Ok((status, render(&page)).into_response())
}

/// The currency most packages use (the new-package form's default).
fn usual_currency(state: &AppState) -> String {
    let packages = state.store.packages(false).unwrap_or_default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for p in &packages {
        *counts
            .entry(p.package.price.currency.as_str().to_owned())
            .or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or_else(|| "USD".to_owned(), |(c, _)| c)
}

async fn list(
    State(state): State<AppState>,
    admin: AdminViewer,
    Query(done): Query<Done>,
) -> PageResult {
    let form = PackageForm {
        currency: usual_currency(&state),
        shared_users: "1".into(),
        ..PackageForm::default()
    };
    list_page(&state, &admin, form, FormError::default(), &done)
}

async fn create(
    State(state): State<AppState>,
    admin: AdminViewer,
    CsrfForm(form): CsrfForm<PackageForm>,
) -> PageResult {
    let req = match form.request(None) {
        Ok(r) => r,
        Err(e) => return list_page(&state, &admin, form, e, &Done::default()),
    };
    match crate::api::packages::create_package(
        State(state.clone()),
        api_admin(&admin),
        JsonBody(req),
    )
    .await
    {
        Ok(_) => Ok(redirect("/admin/packages?done=created")),
        Err(e) => list_page(&state, &admin, form, FormError::of(&e), &Done::default()),
    }
}

#[derive(Template)]
#[template(path = "admin/package_edit.html")]
struct EditPage {
    layout: Layout,
    id: u64,
    form: PackageForm,
    error: FormError,
}

fn load(state: &AppState, id: u64) -> Result<PackageRecord, WebError> {
    state
        .store
        .package(PackageId(id))
        .map_err(store_err)?
        .ok_or_else(|| WebError::not_found(format!("There is no package {id}.")))
}

async fn edit(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
) -> PageResult {
    let r = load(&state, id).map_err(|e| e.with_viewer(&admin))?;
    let page = EditPage {
        layout: layout_for(&admin, &format!("Package {}", r.package.name)),
        id,
        form: PackageForm::of(&r),
        error: FormError::default(),
    };
    Ok(render(&page))
}

async fn update(
    State(state): State<AppState>,
    admin: AdminViewer,
    Path(id): Path<u64>,
    CsrfForm(form): CsrfForm<PackageForm>,
) -> PageResult {
    let archived = Some(form.on_sale.is_none());
    let result = match form.request(archived) {
        Ok(req) => crate::api::packages::update_package(
            State(state.clone()),
            api_admin(&admin),
            PathParam(id),
            JsonBody(req),
        )
        .await
        .map_err(|e| FormError::of(&e)),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(redirect("/admin/packages?done=saved")),
        Err(error) => {
            let page = EditPage {
                layout: layout_for(&admin, "Edit package"),
                id,
                form,
                error,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_in_minor_units() {
        let usd = Currency::new("USD").unwrap();
        assert_eq!(parse_price("1.50", &usd).unwrap(), 150);
        assert_eq!(parse_price("2", &usd).unwrap(), 200);
        assert_eq!(parse_price("0,5", &usd).unwrap(), 50);
        assert!(parse_price("1.505", &usd).is_err());
        assert!(parse_price("-1", &usd).is_err());
        assert!(parse_price("abc", &usd).is_err());
        assert!(parse_price("1.", &usd).is_err());
        let ugx = Currency::new("UGX").unwrap();
        assert_eq!(parse_price("5000", &ugx).unwrap(), 5000);
        assert!(parse_price("5000.5", &ugx).is_err());
        assert_eq!(price_text(150, &usd), "1.50");
        assert_eq!(price_text(5000, &ugx), "5000");
    }

    #[test]
    fn stored_values_go_back_into_the_form_in_a_form_the_parser_reads() {
        use hotspot_shared::units::{ByteCount, RosDuration};
        for secs in [3600, 5400, 86_400, 1800, 45] {
            let text = duration_input(secs);
            assert_eq!(
                RosDuration::parse_human(&text).unwrap().as_secs(),
                secs,
                "{text}"
            );
        }
        for n in [1u64 << 30, 500 << 20, 1234] {
            let text = bytes_input(n);
            assert_eq!(ByteCount::parse_human(&text).unwrap().get(), n, "{text}");
        }
    }
}
