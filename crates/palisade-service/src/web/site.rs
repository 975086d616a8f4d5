//! The site's face: its name, the stylesheet (with the operator's accent colour) and logo,
//! each served under a file name made of its hash so browsers keep it for a year and a
//! changed file is a new name.

use std::path::Path;

use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use http::header;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::state::AppState;

const STYLESHEET: &str = include_str!("../../static/style.css");
/// A logo is a small picture; anything bigger is a mistake in the configuration.
const LOGO_MAX_BYTES: u64 = 256 * 1024;
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What every page shows of the site (see `base.html`).
pub(crate) struct Site {
    /// The site's name, as `site_name` gives it.
    pub(crate) name: String,
    stylesheet: Asset,
    logo: Option<Asset>,
}

/// A file served from memory under `/assets/<name>`.
struct Asset {
    name: String,
    body: axum::body::Bytes,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: Vec<u8>, content_type: &'static str) -> Self {
        let digest = Sha256::digest(&body);
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Self {
            name: format!("{stem}.{hash}.{extension}"),
            body: body.into(),
            content_type,
        }
    }
}

impl Site {
    /// The site as the configuration describes it: reads the logo file, so a missing or
    /// unsuitable one stops the start with its reason.
    pub(crate) fn from_config(config: &Config) -> Result<Self, String> {
        let mut css = STYLESHEET.to_owned();
        if let Some(given) = &config.accent_colour {
            let colour = AccentColour::parse(given)
                .ok_or_else(|| format!("configuration: accent_colour {given:?} is not #rrggbb"))?;
            css.push_str(&colour.css());
        }
        let logo = config.logo_file.as_deref().map(read_logo).transpose()?;
        Ok(Self {
            name: config.site_name.clone(),
            stylesheet: Asset::new("style", "css", css.into_bytes(), "text/css; charset=utf-8"),
            logo,
        })
    }

    /// Where pages link the stylesheet.
    pub(crate) fn stylesheet_href(&self) -> String {
        format!("/assets/{}", self.stylesheet.name)
    }

    /// Where pages show the logo, when there is one.
    pub(crate) fn logo_href(&self) -> Option<String> {
        self.logo
            .as_ref()
            .map(|logo| format!("/assets/{}", logo.name))
    }

    fn asset(&self, name: &str) -> Option<&Asset> {
        std::iter::once(&self.stylesheet)
            .chain(&self.logo)
            .find(|asset| asset.name == name)
    }
}

/// A pages' site renders as its name (`{{ site }}` in a template).
impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

fn read_logo(path: &Path) -> Result<Asset, String> {
    let fail = |why: String| format!("configuration: logo_file {}: {why}", path.display());
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let content_type = match extension.as_str() {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "webp" => "image/webp",
        _ => return Err(fail("must be an .svg, .png or .webp file".into())),
    };
    let size = std::fs::metadata(path)
        .map_err(|e| fail(e.to_string()))?
        .len();
    if size > LOGO_MAX_BYTES {
        return Err(fail(format!(
            "{size} bytes; a logo may be at most {LOGO_MAX_BYTES}"
        )));
    }
    let body = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    Ok(Asset::new("logo", &extension, body, content_type))
}

/// `#rrggbb`, and the text colour (black or white) that reads best on it.
pub(crate) struct AccentColour([u8; 3]);

impl AccentColour {
    pub(crate) fn parse(given: &str) -> Option<Self> {
        let hex = given.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Self([channel(0)?, channel(2)?, channel(4)?]))
    }

    /// WCAG relative luminance.
    fn luminance(&self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    /// Black or white, whichever contrasts more with the accent (always at least 4.58:1).
    fn text_colour(&self) -> &'static str {
        let l = self.luminance();
        let with_white = 1.05 / (l + 0.05);
        let with_black = (l + 0.05) / 0.05;
        if with_white >= with_black {
            "#ffffff"
        } else {
            "#000000"
        }
    }

    fn css(&self) -> String {
        let [r, g, b] = self.0;
        format!(
            "\n:root {{ --accent: #{r:02x}{g:02x}{b:02x}; --on-accent: {}; }}\n",
            self.text_colour()
        )
    }
}

/// `GET /assets/{name}`: the stylesheet or the logo, by their hashed names only.
pub(crate) async fn asset(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    match state.site.asset(&name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            asset.body.clone(),
        )
            .into_response(),
        None => crate::error::AppError::NotFound.into_response(),
    }
}

/// `GET /static/style.css`: the stylesheet under its old, unhashed name, kept an hour.
pub(crate) async fn unhashed_stylesheet(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, state.site.stylesheet.content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        state.site.stylesheet.body.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accent_colours_are_six_hex_digits_and_get_readable_text() {
        for bad in ["", "#fff", "red", "#12345g", "123456", "#1234567", "#ééé"] {
            assert!(AccentColour::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            AccentColour::parse("#ffff00").unwrap().text_colour(),
            "#000000"
        );
        assert_eq!(
            AccentColour::parse("#1d4ed8").unwrap().text_colour(),
            "#ffffff"
        );
        // Whatever the accent, the chosen text contrasts at least 4.5:1 (WCAG AA).
        for value in (0..=0xff_ffffu32).step_by(0x01_0307) {
            let colour = AccentColour::parse(&format!("#{value:06x}")).unwrap();
            let l = colour.luminance();
            let text = if colour.text_colour() == "#ffffff" {
                1.0
            } else {
                0.0
            };
            let ratio = (l.max(text) + 0.05) / (l.min(text) + 0.05);
            assert!(ratio >= 4.5, "#{value:06x}: {ratio}");
        }
    }

    #[test]
    fn a_changed_stylesheet_is_a_new_name() {
        let mut config = Config::default();
        let plain = Site::from_config(&config).unwrap();
        config.accent_colour = Some("#aa3300".into());
        let accented = Site::from_config(&config).unwrap();
        assert_ne!(plain.stylesheet_href(), accented.stylesheet_href());
        assert!(plain.stylesheet_href().starts_with("/assets/style."));
        let name = accented
            .stylesheet_href()
            .trim_start_matches("/assets/")
            .to_owned();
        assert!(accented.asset(&name).is_some());
        assert!(accented.asset("style.css").is_none());
    }
}
