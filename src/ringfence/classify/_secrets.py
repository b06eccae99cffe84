# ruff: noqa: E501  (one rule per line reads better than wrapped regexes)
"""Catalogue of credentials and secrets, written from the providers' public token formats.

Each rule is our own, informed by the providers' documentation and public rule sets such as
gitleaks (MIT); sources are cited in docs/classification.md. Every secret is RESTRICTED except
identifiers that are not credentials on their own. Declarative only: nothing is evaluated here,
and a preview never shows more than the public, fixed prefix of a token.
"""

from __future__ import annotations

from collections.abc import Callable

from ringfence.classify import _validators as v
from ringfence.classify._model import Detector
from ringfence.core.levels import DataClass

R, INTERNAL = DataClass.RESTRICTED, DataClass.INTERNAL
_E3 = v.entropy_at_least(3.0)
_E35 = v.entropy_at_least(3.5)
_GITLEAKS = "gitleaks config/gitleaks.toml (MIT)"


def _tok(
    id: str,
    name: str,
    pattern: str,
    prefix: int,
    example: str,
    *,
    validator: Callable[[str], bool] = _E3,
    base: float = 0.9,
    context: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    needs_context: bool = False,
    data_class: DataClass = R,
    caseless: bool = False,
    source: str = _GITLEAKS,
    prefilter: str = "",
) -> Detector:
    return Detector(
        id=id,
        name=name,
        data_class=data_class,
        category="secret",
        pattern=pattern,
        validator=validator,
        validator_name=getattr(validator, "__name__", ""),
        base=base,
        context=context,
        keys=keys,
        needs_context=needs_context,
        caseless=caseless,
        mask="prefix",
        keep_prefix=prefix,
        example=example,
        source=source,
        prefilter=prefilter,
    )


_A = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # example filler alphabet


def _ex(n: int, alphabet: str = _A, seed: int = 7) -> str:
    """A deterministic, high-entropy, obviously synthetic example body of length ``n``."""
    state, out = seed, []
    for _ in range(n):
        state = (state * 1103515245 + 12345) % 2**31
        out.append(alphabet[(state >> 8) % len(alphabet)])
    return "".join(out)


_HEX = "0123456789abcdef"

SECRET_DETECTORS: tuple[Detector, ...] = (
    _tok("aws_access_key_id", "AWS access key id",
         r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b", 4, "AKIA" + _ex(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
    _tok("aws_secret_access_key", "AWS secret access key",
         r"(?P<v>\b[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)", 0, _ex(40), validator=_E35, base=0.2,
         needs_context=True, context=("aws_secret", "secret_access_key", "aws secret", "secretaccesskey"),
         keys=("awssecret", "secretaccesskey", "awssecretkey")),
    _tok("aws_mws_key", "Amazon MWS auth token",
         r"\bamzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", 9,
         "amzn.mws.4f2a9c1e-7b3d-4e8f-9a1b-2c3d4e5f6a7b"),
    _tok("github_pat_classic", "GitHub personal access token (classic)", r"\bghp_[0-9A-Za-z]{36}\b", 4, "ghp_" + _ex(36)),
    _tok("github_pat_fine_grained", "GitHub fine-grained token",
         r"\bgithub_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}\b", 11, "github_pat_" + _ex(22) + "_" + _ex(59, seed=11)),
    _tok("github_oauth_token", "GitHub OAuth access token", r"\bgho_[0-9A-Za-z]{36}\b", 4, "gho_" + _ex(36)),
    _tok("github_app_token", "GitHub app user/installation token", r"\bgh[us]_[0-9A-Za-z]{36}\b", 4, "ghs_" + _ex(36)),
    _tok("github_refresh_token", "GitHub refresh token", r"\bghr_[0-9A-Za-z]{36,76}\b", 4, "ghr_" + _ex(76)),
    _tok("gitlab_pat", "GitLab personal access token", r"\bglpat-[0-9A-Za-z_\-]{20,}\b", 6, "glpat-" + _ex(20)),
    _tok("gitlab_pipeline_trigger_token", "GitLab pipeline trigger token", r"\bglptt-[0-9a-f]{40}\b", 6, "glptt-" + _ex(40, _HEX)),
    _tok("gitlab_runner_token", "GitLab runner token",
         r"\b(?:GR1348941|glrt-)[0-9A-Za-z_\-]{20,}\b", 5, "glrt-" + _ex(20)),
    _tok("gitlab_deploy_token", "GitLab deploy token", r"\bgldt-[0-9A-Za-z_\-]{20,}\b", 5, "gldt-" + _ex(20)),
    _tok("slack_bot_token", "Slack bot token", r"\bxoxb-\d{10,13}-\d{10,13}-[0-9A-Za-z]{24,34}\b", 5,
         "xoxb-1234567890123-1234567890123-" + _ex(24)),
    _tok("slack_user_token", "Slack user token", r"\bxox[pe](?:-\d{10,13}){3}-[0-9A-Za-z]{28,34}\b", 5,
         "xoxp-1234567890123-1234567890123-1234567890123-" + _ex(32)),
    _tok("slack_app_token", "Slack app-level token", r"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]{32,}\b", 5,
         "xapp-1-A0123456789-1234567890123-" + _ex(64, _HEX)),
    _tok("slack_config_token", "Slack configuration token", r"\bxoxe\.xox[bp]-\d-[A-Z0-9]{160,170}\b", 10,
         "xoxe.xoxp-1-" + _ex(166, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")),
    _tok("slack_legacy_token", "Slack legacy token", r"\bxox[ors]-\d{8,12}-[0-9A-Za-z\-]{20,}\b", 5,
         "xoxs-123456789-" + _ex(24)),
    _tok("slack_webhook_url", "Slack incoming webhook",
         r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{43,56}", 23,
         "https://hooks.slack.com/services/T01ABCDEF/B01ABCDEF/" + _ex(24)),
    _tok("stripe_secret_key", "Stripe secret key", r"\bsk_(?:live|test)_[0-9A-Za-z]{20,99}\b", 8, "sk_live_" + _ex(24)),
    _tok("stripe_restricted_key", "Stripe restricted key", r"\brk_(?:live|test)_[0-9A-Za-z]{20,99}\b", 8, "rk_live_" + _ex(24)),
    _tok("stripe_webhook_secret", "Stripe webhook signing secret", r"\bwhsec_[0-9A-Za-z]{32,}\b", 6, "whsec_" + _ex(32)),
    _tok("google_api_key", "Google API key", r"\bAIza[0-9A-Za-z_\-]{35}\b", 4, "AIza" + _ex(35)),
    _tok("google_oauth_client_secret", "Google OAuth client secret", r"\bGOCSPX-[0-9A-Za-z_\-]{28}\b", 7, "GOCSPX-" + _ex(28)),
    _tok("google_oauth_access_token", "Google OAuth access token", r"\bya29\.[0-9A-Za-z_\-]{30,}\b", 5, "ya29." + _ex(60)),
    _tok("gcp_service_account_key", "GCP service account JSON",
         r"\"type\"\s{0,3}:\s{0,3}\"service_account\"", 0, '{"type": "service_account"}',
         validator=v.format_only, base=0.95, source="Google Cloud service account key file format"),
    _tok("azure_storage_connection_string", "Azure storage account key",
         r"AccountKey=(?P<v>[A-Za-z0-9+/]{86}==)", 0, "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=" + _ex(86) + "==",
         source="Azure Storage connection string documentation"),
    _tok("azure_sas_token", "Azure shared access signature",
         r"[?&]sig=(?P<v>[A-Za-z0-9%+/]{40,100}(?:%3D|=))", 0, "?sv=2022-11-02&ss=b&sig=" + _ex(43) + "%3D",
         base=0.7, context=("sv=", "se=", "sp="), source="Azure SAS documentation"),
    _tok("azure_ad_client_secret", "Entra ID (Azure AD) client secret",
         r"\b[0-9A-Za-z_~.]{3}\dQ~[0-9A-Za-z_~.\-]{31,34}\b", 0, "abc8Q~" + _ex(34)),
    _tok("twilio_api_key", "Twilio API key SID", r"\bSK[0-9a-fA-F]{32}\b", 2, "SK" + _ex(32, _HEX), base=0.75,
         context=("twilio",)),
    _tok("twilio_account_sid", "Twilio account SID", r"\bAC[0-9a-f]{32}\b", 2, "AC" + _ex(32, _HEX),
         base=0.6, data_class=INTERNAL, context=("twilio", "account_sid")),
    _tok("twilio_auth_token", "Twilio auth token", r"\b(?P<v>[0-9a-f]{32})\b", 0, _ex(32, _HEX), base=0.2,
         needs_context=True, context=("twilio", "auth_token", "authtoken"), keys=("twilioauth", "authtoken")),
    _tok("sendgrid_api_key", "SendGrid API key", r"\bSG\.[0-9A-Za-z_\-]{22}\.[0-9A-Za-z_\-]{43}\b", 3,
         "SG." + _ex(22) + "." + _ex(43, seed=13)),
    _tok("mailchimp_api_key", "Mailchimp API key", r"\b[0-9a-f]{32}-us\d{1,2}\b", 0, _ex(32, _HEX) + "-us14"),
    _tok("mailgun_api_key", "Mailgun API key", r"\bkey-[0-9a-z]{32}\b", 4, "key-" + _ex(32, _HEX + "ghijk")),
    _tok("openai_api_key", "OpenAI API key",
         r"\bsk-(?:(?:proj|svcacct|admin)-)?[0-9A-Za-z_\-]{20,}T3BlbkFJ[0-9A-Za-z_\-]{20,}\b", 3,
         "sk-proj-" + _ex(24) + "T3BlbkFJ" + _ex(24, seed=5)),
    _tok("anthropic_api_key", "Anthropic API key", r"\bsk-ant-(?:api03|admin01)-[0-9A-Za-z_\-]{93}AA\b", 7,
         "sk-ant-api03-" + _ex(93) + "AA"),
    _tok("npm_access_token", "npm access token", r"\bnpm_[0-9A-Za-z]{36}\b", 4, "npm_" + _ex(36)),
    _tok("pypi_upload_token", "PyPI API token", r"\bpypi-AgEIcHlwaS5vcmc[0-9A-Za-z_\-]{50,}", 5,
         "pypi-AgEIcHlwaS5vcmc" + _ex(60)),
    _tok("atlassian_api_token", "Atlassian API token", r"\bATATT3[0-9A-Za-z_\-=]{186}\b", 6, "ATATT3" + _ex(186)),
    _tok("okta_api_token", "Okta API token", r"\b(?P<v>00[0-9A-Za-z_\-]{40})\b", 0, "00" + _ex(40), base=0.2,
         needs_context=True, context=("okta", "ssws"), keys=("okta",)),
    _tok("shopify_access_token", "Shopify access token", r"\bshp(?:at|ca|pa|ss)_[0-9a-fA-F]{32}\b", 6,
         "shpat_" + _ex(32, _HEX)),
    _tok("digitalocean_token", "DigitalOcean token", r"\bdo[opr]_v1_[0-9a-f]{64}\b", 7, "dop_v1_" + _ex(64, _HEX)),
    _tok("heroku_api_key", "Heroku API key", r"\bHRKU-AA[0-9A-Za-z_\-]{58}\b", 7, "HRKU-AA" + _ex(58)),
    _tok("heroku_api_key_legacy", "Heroku API key (legacy UUID)",
         r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", 0,
         "4f2a9c1e-7b3d-4e8f-9a1b-2c3d4e5f6a7b", base=0.2, needs_context=True, context=("heroku",),
         keys=("heroku",)),
    _tok("datadog_api_key", "Datadog API key", r"\b(?P<v>[0-9a-f]{32})\b", 0, _ex(32, _HEX), base=0.2,
         needs_context=True, context=("datadog", "dd_api_key", "dd-api-key"), keys=("datadog", "ddapikey")),
    _tok("datadog_app_key", "Datadog application key", r"\b(?P<v>[0-9a-f]{40})\b", 0, _ex(40, _HEX), base=0.2,
         needs_context=True, context=("dd_app_key", "dd-application-key", "datadog_app"), keys=("ddappkey", "datadogapp")),
    _tok("hubspot_private_app_token", "HubSpot private app token",
         r"\bpat-(?:na|eu)\d-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", 8,
         "pat-na1-4f2a9c1e-7b3d-4e8f-9a1b-2c3d4e5f6a7b"),
    _tok("salesforce_access_token", "Salesforce access token", r"\b00[0-9A-Za-z]{13}![0-9A-Za-z_.]{96}", 3,
         "00D" + _ex(12) + "!" + _ex(96)),
    _tok("salesforce_refresh_token", "Salesforce refresh token", r"\b5Aep8[0-9A-Za-z._]{82}", 5, "5Aep8" + _ex(82)),
    _tok("zendesk_api_token", "Zendesk API token", r"\b(?P<v>[0-9A-Za-z]{40})\b", 0, _ex(40), validator=_E35,
         base=0.2, needs_context=True, context=("zendesk",), keys=("zendesk",)),
    _tok("private_key", "PEM private key",
         r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----", 0,
         "-----BEGIN RSA PRIVATE KEY-----", validator=v.format_only, base=0.95,
         source="RFC 7468 textual encodings"),
    _tok("json_web_token", "JSON Web Token",
         r"\beyJ[0-9A-Za-z_\-]{8,}\.eyJ[0-9A-Za-z_\-]{8,}\.[0-9A-Za-z_\-]{16,}", 3,
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
         validator=v.jwt, base=0.85, source="RFC 7519 / RFC 7515 compact serialisation"),
    _tok("basic_auth_url", "URL with embedded credentials",
         r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s:@/\"'<>]{1,64}:[^\s:@/\"'<>]{1,128}@[A-Za-z0-9.\-]{1,253}", 0,
         "https://svc_sync:Zq8vL2mN4pR7@db.internal.example", validator=v.basic_auth_url, base=0.85,
         source="RFC 3986 userinfo"),
    _tok("linear_api_key", "Linear API key", r"\blin_api_[0-9A-Za-z]{40}\b", 8, "lin_api_" + _ex(40)),
    _tok("notion_integration_token", "Notion integration token", r"\bntn_\d{11}[0-9A-Za-z]{35}\b", 4,
         "ntn_12345678901" + _ex(35)),
    _tok("discord_webhook_url", "Discord webhook",
         r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[0-9A-Za-z_\-]{60,68}", 33,
         "https://discord.com/api/webhooks/123456789012345678/" + _ex(68)),
    _tok("telegram_bot_token", "Telegram bot token", r"\b\d{8,10}:AA[0-9A-Za-z_\-]{33}\b", 0,
         "123456789:AA" + _ex(33)),
    _tok("hashicorp_vault_token", "HashiCorp Vault token", r"\bhv[sb]\.[0-9A-Za-z_\-]{90,120}\b", 4, "hvs." + _ex(95)),
    _tok("terraform_cloud_token", "Terraform Cloud token", r"\b[0-9A-Za-z]{14}\.atlasv1\.[0-9A-Za-z_\-=]{60,70}\b", 0,
         _ex(14) + ".atlasv1." + _ex(67)),
    _tok("postman_api_key", "Postman API key", r"\bPMAK-[0-9a-f]{24}-[0-9a-f]{34}\b", 5,
         "PMAK-" + _ex(24, _HEX) + "-" + _ex(34, _HEX)),
    _tok("new_relic_user_key", "New Relic user API key", r"\bNRAK-[0-9A-Z]{27}\b", 5,
         "NRAK-" + _ex(27, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")),
    _tok("grafana_service_account_token", "Grafana service account token",
         r"\bglsa_[0-9A-Za-z]{32}_[0-9a-fA-F]{8}\b", 5, "glsa_" + _ex(32) + "_" + _ex(8, _HEX)),
    _tok("square_access_token", "Square access token", r"\b(?:EAAA|sq0atp-)[0-9A-Za-z_\-+=]{22,60}\b", 4,
         "EAAA" + _ex(60)),
    _tok("square_oauth_secret", "Square OAuth secret", r"\bsq0csp-[0-9A-Za-z_\-]{43}\b", 7, "sq0csp-" + _ex(43)),
    _tok("braintree_access_token", "PayPal Braintree access token",
         r"\baccess_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}\b", 24,
         "access_token$production$" + _ex(16, _HEX) + "$" + _ex(32, _HEX)),
    _tok("airtable_pat", "Airtable personal access token", r"\bpat[0-9A-Za-z]{14}\.[0-9a-f]{64}\b", 3,
         "pat" + _ex(14) + "." + _ex(64, _HEX)),
    _tok("figma_pat", "Figma personal access token", r"\bfigd_[0-9A-Za-z_\-]{40}\b", 5, "figd_" + _ex(40)),
    _tok("age_secret_key", "age secret key", r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b", 15,
         "AGE-SECRET-KEY-1" + _ex(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
    _tok("docker_hub_pat", "Docker Hub personal access token", r"\bdckr_pat_[0-9A-Za-z_\-]{27}\b", 9, "dckr_pat_" + _ex(27)),
    _tok("pulumi_access_token", "Pulumi access token", r"\bpul-[0-9a-f]{40}\b", 4, "pul-" + _ex(40, _HEX)),
    _tok("supabase_access_token", "Supabase access token", r"\bsbp_[0-9a-f]{40}\b", 4, "sbp_" + _ex(40, _HEX)),
    _tok("huggingface_token", "Hugging Face token", r"\bhf_[A-Za-z]{34}\b", 3, "hf_" + _ex(34, "abcdefghijkmnopqrstuvwxyzABCDEFGH")),
    _tok("databricks_token", "Databricks token", r"\bdapi[0-9a-f]{32}(?:-\d)?\b", 4, "dapi" + _ex(32, _HEX)),
    _tok("doppler_token", "Doppler token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[0-9A-Za-z]{40,44}\b", 6, "dp.pt." + _ex(43)),
    _tok("sentry_auth_token", "Sentry auth token", r"\bsntry[su]_[0-9A-Za-z_=+/\-]{64,}", 7, "sntryu_" + _ex(64, _HEX)),
    _tok("mapbox_secret_token", "Mapbox secret token", r"\bsk\.eyJ[0-9A-Za-z_\-]{20,}\.[0-9A-Za-z_\-]{20,}\b", 3,
         "sk.eyJ" + _ex(40) + "." + _ex(22)),
    _tok("generic_secret_assignment", "Secret assigned to a key-like name",
         r"(?:secret|token|api[_\-]?key|passw(?:or)?d|pwd|credential|private[_\-]?key)[A-Za-z0-9_\-]{0,20}[\"']?\s{0,3}[:=]\s{0,3}[\"']?(?P<v>[A-Za-z0-9_\-+/=.~!@#$%^&*]{16,128})",
         0, "client_secret = " + _ex(32), validator=_E35, base=0.7, caseless=True,
         source="gitleaks generic-api-key rule idea: key-like name + entropy",
         prefilter=r"(?:secret|token|api[_\-]?key|passw(?:or)?d|pwd|credential|private[_\-]?key)[A-Za-z0-9_\-]{0,20}[\"']?\s{0,3}[:=]"),
)  # fmt: skip

__all__ = ["SECRET_DETECTORS"]
