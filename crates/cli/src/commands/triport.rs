//! `affiliate triport user <uuid>`: Triport's operator view of one user.

use std::path::Path;

use affiliate::http::config::SourceSettings;
use affiliate::triport::{OperatorView, TriportConfig};
use affiliate::ErrorKind;

use crate::args::{UserArgs, ViewFormat};
use crate::config::{Config, ConfigError, ConfigErrors, ProcessEnv, SourceSpec};
use crate::error::Failure;
use crate::table;

/// Runs `affiliate triport user`.
pub(crate) async fn user(args: UserArgs) -> Result<(), Failure> {
    let id = uuid::Uuid::parse_str(args.uuid.trim()).map_err(|_| {
        Failure::Usage(format!(
            "{:?} is not a Triport user id\n  fix: pass the user's UUID, e.g. 3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e",
            args.uuid
        ))
    })?;
    let env = ProcessEnv;
    let client = match &args.config {
        None => TriportConfig::default()
            .admin_client(&SourceSettings::default(), &env)
            .map_err(|issues| usage(issues.into_iter().map(|i| ConfigError::from_issue("", i))))?,
        Some(path) => {
            let spec = triport_source(path, args.label.as_deref())?;
            let config: TriportConfig = toml::Value::Table(spec.table.clone())
                .try_into()
                .map_err(|e| Failure::Usage(format!("{}: {}: {e}", path.display(), spec.key)))?;
            config
                .admin_client(&spec.settings, &env)
                .map_err(|issues| ConfigErrors {
                    file: path.clone(),
                    errors: spec.errors(issues),
                })?
        }
    };
    let view = client
        .get_user(&id.hyphenated().to_string())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => Failure::Failed(format!(
                "{e}\n  fix: check that the operator token's variable holds a valid token"
            )),
            _ => Failure::Failed(e.to_string()),
        })?;
    match args.format {
        ViewFormat::Json => {
            let text = serde_json::to_string_pretty(&view)
                .map_err(|e| Failure::Failed(format!("encoding JSON: {e}")))?;
            println!("{text}");
        }
        ViewFormat::Table => print!("{}", view_text(&view)),
    }
    Ok(())
}

/// The view as readable text.
fn view_text(view: &OperatorView) -> String {
    let rate = format!(
        "{}.{:02} %",
        view.rate_bps / 100,
        (view.rate_bps % 100).abs()
    );
    let fields = [
        ("user", view.user_id.clone()),
        ("tier", format!("{} ({})", view.tier_label, view.tier)),
        ("commission", rate),
        ("primary code", view.primary_code.clone()),
        (
            "custom slug",
            view.custom_slug.clone().unwrap_or_else(|| "-".into()),
        ),
        ("paid invitees", view.paid_invitees_info.to_string()),
        (
            "balance pending",
            table::units(view.balance.pending_micro.into()),
        ),
        (
            "balance available",
            table::units(view.balance.available_micro.into()),
        ),
        (
            "lifetime earned",
            table::units(view.balance.lifetime_micro.into()),
        ),
    ];
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!("{name:<18} {value}\n"));
    }
    let rows: Vec<Vec<String>> = view
        .recent_attributions
        .iter()
        .map(|a| {
            let event = serde_json::to_value(&a.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            vec![
                a.id.clone(),
                event,
                a.created_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&format!(
        "\nrecent attributions ({}, newest first)\n",
        rows.len()
    ));
    if !rows.is_empty() {
        out.push_str(&table::render(
            &[("id", true), ("event", false), ("at", false)],
            &rows,
        ));
    }
    out
}

/// The Triport source of `path` (the one labelled `label`, when given).
fn triport_source(path: &Path, label: Option<&str>) -> Result<SourceSpec, Failure> {
    let config = Config::load(path)?;
    let found = config
        .sources
        .into_iter()
        .filter(|s| s.provider == "triport")
        .find(|s| label.is_none_or(|l| l == s.label));
    found.ok_or_else(|| {
        let what = match label {
            Some(l) => format!("no Triport source is labelled {l:?}"),
            None => "no [[source]] has provider = \"triport\"".to_owned(),
        };
        ConfigErrors::one(
            path,
            ConfigError::new("source", what)
                .fix("add a Triport source, or leave out --config to use TRIPORT_BASE_URL and TRIPORT_ADMIN_TOKEN"),
        )
        .into()
    })
}

/// Problems without a file, one per line, as a usage failure.
fn usage(errors: impl Iterator<Item = ConfigError>) -> Failure {
    let lines: Vec<String> = errors
        .map(|e| format!("{}: {}\n  fix: {}", e.key, e.message, e.fix))
        .collect();
    Failure::Usage(lines.join("\n"))
}
