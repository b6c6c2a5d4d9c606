//! `/geo`: countries, subdivisions and time zones for forms.

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::ApiTags;
use crate::domain::geo;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;

pub struct GeoApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CountryView {
    /// ISO 3166-1 alpha-2.
    code: String,
    name: String,
    /// The zone a lead here gets when none is given, if the country leaves no doubt.
    default_timezone: Option<String>,
}

impl From<geo::Country> for CountryView {
    fn from(c: geo::Country) -> Self {
        CountryView {
            default_timezone: geo::inferred_zone(c.code).map(str::to_string),
            code: c.code.into(),
            name: c.name.into(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SubdivisionView {
    /// ISO 3166-2, e.g. US-CA.
    code: String,
    name: String,
    kind: String,
}

impl From<geo::Subdivision> for SubdivisionView {
    fn from(s: geo::Subdivision) -> Self {
        SubdivisionView {
            code: s.code.into(),
            name: s.name.into(),
            kind: s.kind.into(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ZoneView {
    name: String,
    comment: String,
}

impl From<geo::Zone> for ZoneView {
    fn from(z: geo::Zone) -> Self {
        ZoneView {
            name: z.name.into(),
            comment: z.comment.into(),
        }
    }
}

#[OpenApi(prefix_path = "/geo", tag = "ApiTags::Geo")]
impl GeoApi {
    /// Every ISO 3166-1 country.
    #[oai(path = "/countries", method = "get")]
    async fn countries(&self, _auth: Auth) -> ApiResult<Json<Vec<CountryView>>> {
        Ok(Json(geo::countries().into_iter().map(Into::into).collect()))
    }

    /// A country's ISO 3166-2 subdivisions.
    #[oai(path = "/countries/:code/subdivisions", method = "get")]
    async fn subdivisions(
        &self,
        _auth: Auth,
        code: Path<String>,
    ) -> ApiResult<Json<Vec<SubdivisionView>>> {
        Ok(Json(
            geo::subdivisions(&code.0)?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// A country's IANA time zones.
    #[oai(path = "/countries/:code/timezones", method = "get")]
    async fn country_zones(
        &self,
        _auth: Auth,
        code: Path<String>,
    ) -> ApiResult<Json<Vec<ZoneView>>> {
        Ok(Json(
            geo::zones_of(&code.0)?
                .into_iter()
                .map(Into::into)
                .collect(),
        ))
    }

    /// Every IANA time zone name.
    #[oai(path = "/timezones", method = "get")]
    async fn timezones(&self, _auth: Auth) -> ApiResult<Json<Vec<String>>> {
        Ok(Json(
            geo::all_zones().into_iter().map(str::to_string).collect(),
        ))
    }
}
