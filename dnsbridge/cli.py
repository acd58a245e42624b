"""The `dnsbridge` command line: options, environment, exit codes (DESIGN.md's contract).

Input is validated before any API is called, so bad input exits 2 with nothing changed. The
provider SDKs are imported only once a command needs them: `dnsbridge --help` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import click

from dnsbridge import __version__, console, names
from dnsbridge import provider as provider_registry
from dnsbridge.errors import DnsbridgeError, UsageError
from dnsbridge.onboard import DomainResult, Options
from dnsbridge.provider import ProviderSettings
from dnsbridge.ratelimit import Limits
from dnsbridge.report import RedactingFormatter, Redactor, exit_code, render_json, render_text
from dnsbridge.retry import RetryPolicy
from dnsbridge.run import DEFAULT_CONCURRENCY, Providers, run_all
from dnsbridge.ses import REGION_HOSTS, Ses
from dnsbridge.tencent import credentials_from

if TYPE_CHECKING:
    from dnsbridge.sandbox.world import Sandbox

log = logging.getLogger("dnsbridge")
CALL_TIMEOUT = 15.0  # seconds for any one API call


class _LevelFormatter(RedactingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


def _setup_logging(verbosity: int, redactor: Redactor, handler: logging.Handler) -> None:
    handler.setFormatter(_LevelFormatter(redactor, "%(message)s"))
    root = logging.getLogger("dnsbridge")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    if verbosity > 1:  # -vv: the SDKs' own debug logs too (they never log our secret key)
        for name in ("tencentcloud_sdk_common", "botocore", "cloudflare"):
            sdk = logging.getLogger(name)
            sdk.handlers[:] = [handler]
            sdk.setLevel(logging.DEBUG)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: also the SDKs' debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr; no text summary.")
@click.version_option(__version__, "--version", prog_name="dnsbridge")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Onboard sender domains to Tencent Cloud SES: register, write DNS records, verify.

    \b
    Exit codes: 0 verified (or done, with --dry-run / --no-wait); 1 failed (API, auth,
    conflict); 2 bad usage or input, nothing changed; 3 records in place but SES did not
    verify before --timeout. With several domains the worst code wins.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = -1 if quiet else verbose
    env = dict(os.environ)
    ctx.obj["env"] = env
    ctx.obj["redactor"] = Redactor(env)
    ctx.obj["console"] = console.start(env, sys.stderr, ctx.obj["verbosity"], ctx.obj["redactor"])
    _setup_logging(ctx.obj["verbosity"], ctx.obj["redactor"], ctx.obj["console"].handler())


def _domain_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.argument("domains", nargs=-1, metavar="DOMAIN..."),
            click.option(
                "--from-file", type=click.File("r"), help="Read domains from FILE, one per line ('-': stdin)."
            ),
            click.option(
                "--provider",
                envvar="DNSBRIDGE_PROVIDER",
                default="auto",
                show_default=True,
                help="DNS provider plugin (see `dnsbridge providers`), or auto. [env DNSBRIDGE_PROVIDER]",
            ),
            click.option("--zone", help="The zone holding the domain's records (skips zone discovery)."),
            click.option(
                "--region",
                envvar="DNSBRIDGE_REGION",
                default="ap-singapore",
                show_default=True,
                type=click.Choice(sorted(REGION_HOSTS)),
                help="SES region. [env DNSBRIDGE_REGION]",
            ),
            click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True),
        ]
    ):
        fn = option(fn)
    return fn


def _not_nan(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # FloatRange lets NaN through: every comparison with NaN is false.
    if value is not None and value != value:
        raise click.BadParameter("is not a number", ctx=ctx, param=param)
    return value


def _onboard_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--dkim-bits",
                envvar="DNSBRIDGE_DKIM_BITS",
                type=click.Choice(["1024", "2048"]),
                default="2048",
                show_default=True,
                help="DKIM key length for a new identity. [env DNSBRIDGE_DKIM_BITS]",
            ),
            click.option(
                "--timeout",
                envvar="DNSBRIDGE_TIMEOUT",
                type=click.FloatRange(min=1, max=86400),
                callback=_not_nan,
                default=900,
                show_default=True,
                help="Seconds for the whole run of a domain: API retries, provider sync, propagation, verification. "
                "[env DNSBRIDGE_TIMEOUT]",
            ),
            click.option(
                "--ttl",
                type=click.IntRange(min=1, max=604800),
                help="TTL of records written (provider default if unset).",
            ),
            click.option("--replace-mx", is_flag=True, help="Replace an existing MX with SES's (default: skip it)."),
            click.option(
                "--concurrency",
                envvar="DNSBRIDGE_CONCURRENCY",
                type=click.IntRange(min=1, max=256),
                default=DEFAULT_CONCURRENCY,
                show_default=True,
                help="Domains worked on at once. [env DNSBRIDGE_CONCURRENCY]",
            ),
            click.option(
                "--rate-scale",
                type=click.FloatRange(min=0.01, max=1.0),
                default=1.0,
                show_default=True,
                help="Fraction of each API's documented rate limit to use (e.g. 0.5 when other tools share the quota).",
            ),
            click.option(
                "--propagation-check/--no-propagation-check",
                envvar="DNSBRIDGE_PROPAGATION_CHECK",
                default=True,
                show_default=True,
                help="Wait for the zone's authoritative nameservers before asking SES. "
                "[env DNSBRIDGE_PROPAGATION_CHECK]",
            ),
        ]
    ):
        fn = option(fn)
    return fn


@cli.command("onboard")
@_domain_options
@_onboard_options
@click.option("--no-wait", is_flag=True, help="Write the records and stop; don't wait for verification.")
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing (same as `plan`).")
@click.pass_context
def onboard_command(ctx: click.Context, /, **kw: Any) -> None:
    """Register DOMAIN with SES, write the records it needs, wait until it is verified."""
    _run(ctx, kw, dry_run=kw.pop("dry_run"), wait=not kw.pop("no_wait"))


@cli.command("plan")
@_domain_options
@_onboard_options
@click.pass_context
def plan_command(ctx: click.Context, /, **kw: Any) -> None:
    """Show what `onboard` would change (reads only; changes nothing)."""
    _run(ctx, kw, dry_run=True, wait=False)


def _read_domains(args: Sequence[str], from_file: TextIO | None) -> list[str]:
    raw = list(args)
    if from_file is not None:
        raw += [line.split("#", 1)[0].strip() for line in from_file]
        raw = [d for d in raw if d]
    if not raw:
        raise UsageError("no domain given", hint="pass DOMAIN... or --from-file FILE")
    out: list[str] = []
    for item in raw:
        domain = names.sender_domain(item)
        if domain not in out:
            out.append(domain)
    return out


def _run(ctx: click.Context, kw: dict[str, Any], *, dry_run: bool, wait: bool) -> None:
    env: dict[str, str] = ctx.obj["env"]
    output: str = kw["output"]
    results: list[DomainResult] = []
    try:
        domains = _read_domains(kw["domains"], kw["from_file"])
        options = Options(
            provider=kw["provider"],
            zone=names.normalise(kw["zone"]) if kw["zone"] else None,
            region=kw["region"],
            dkim_bits=int(kw["dkim_bits"]),
            timeout=float(kw["timeout"]),
            wait=wait,
            dry_run=dry_run,
            replace_mx=kw["replace_mx"],
            propagation_check=kw["propagation_check"],
            ttl=kw["ttl"],
        )
        limits = Limits(scale=kw["rate_scale"])
        ses = _ses(env, options.region, limits)
        # Merging reads and writes per zone pays only when several domains run at once.
        batching = len(domains) > 1 and kw["concurrency"] > 1
        providers = _providers(kw["provider"], env, limits, ttl=options.ttl, domains=len(domains), batching=batching)
        try:
            results = run_all(domains, ses, providers, options, env, concurrency=kw["concurrency"])
        finally:
            ctx.obj["console"].add_secrets(providers.secrets())
    except DnsbridgeError as exc:
        _fail(ctx, exc, output)
    _emit(ctx, results, output, dry_run)


def _ses(env: Mapping[str, str], region: str, limits: Limits | None = None) -> Ses:
    return Ses(credentials_from(env), region, env, retry=RetryPolicy(), timeout=CALL_TIMEOUT, limits=limits)


def _providers(
    name: str,
    env: Mapping[str, str],
    limits: Limits | None = None,
    ttl: int | None = None,
    domains: int = 1,
    batching: bool = False,
) -> Providers:
    settings = ProviderSettings(
        env=env, timeout=CALL_TIMEOUT, retry=RetryPolicy(), ttl=ttl, limits=limits or Limits(), domains=domains
    )
    return Providers(name, settings, batching=batching)


def _emit(ctx: click.Context, results: Sequence[DomainResult], output: str, dry_run: bool) -> None:
    redactor: Redactor = ctx.obj["redactor"]
    ctx.obj["console"].finish(results, dry_run)
    if output == "json":
        click.echo(ctx.obj["console"].stdout(redactor(render_json(results))))
    elif ctx.obj["verbosity"] >= 0:
        click.echo(ctx.obj["console"].stdout(redactor(render_text(results, dry_run))))
    ctx.exit(exit_code(results))


def _fail(ctx: click.Context, exc: DnsbridgeError, output: str) -> None:
    """An error before any domain's own flow began (bad input, credentials): nothing was changed."""
    redactor: Redactor = ctx.obj["redactor"]
    log.error("%s", exc)
    ctx.obj["console"].fail(exc)
    if output == "json":
        document = {"domains": [], "error": {"code": exc.code, "message": str(exc)}}
        click.echo(redactor(json.dumps(document, indent=2, ensure_ascii=False)))
    ctx.exit(exc.exit_code)


@cli.command("status")
@_domain_options
@click.pass_context
def status_command(ctx: click.Context, /, **kw: Any) -> None:
    """SES's view, the DNS view and the provider's view of DOMAIN's records, side by side."""
    from dnsbridge.status import status

    env: dict[str, str] = ctx.obj["env"]
    try:
        domains = _read_domains(kw["domains"], kw["from_file"])
        ses = _ses(env, kw["region"])
        providers = _providers(kw["provider"], env)
        zone = names.normalise(kw["zone"]) if kw["zone"] else None
        reports = [status(d, ses, providers.for_domain(d), zone, env) for d in domains]
        ctx.obj["console"].add_secrets(providers.secrets())
    except DnsbridgeError as exc:
        _fail(ctx, exc, kw["output"])
        return
    redactor: Redactor = ctx.obj["redactor"]
    if kw["output"] == "json":
        click.echo(redactor(json.dumps({"domains": [r.as_dict() for r in reports]}, indent=2, ensure_ascii=False)))
    else:
        click.echo(ctx.obj["console"].stdout(redactor("\n\n".join(r.render() for r in reports))))
    ctx.exit(max((r.exit_code for r in reports), default=0))


@cli.command("providers")
def providers_command() -> None:
    """List the installed DNS provider plugins."""
    for name, target in sorted(provider_registry.available().items()):
        click.echo(f"{name:<12} {target}")


def main(argv: Sequence[str] | None = None) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="dnsbridge")
    except SystemExit as done:
        # A profiler or coverage tracer writes its data at interpreter exit: let it.
        if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
            raise
        _exit_now(done.code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug: show the traceback, but never a secret that a frame's text held
        click.echo(Redactor(os.environ)(traceback.format_exc()), err=True)
        click.echo("dnsbridge: internal error (the traceback above is a bug; please report it)", err=True)
        sys.exit(1)


def _exit_now(code: object) -> NoReturn:
    """Exit without the interpreter's teardown: freeing the SDKs' modules (pydantic models,
    botocore's loaders) takes ~0.3 s after the work is done and the report is out — a cost paid
    by every provisioning script and CI step. Only the main thread is left by then; the streams
    and log handlers are flushed here, which is all that teardown would still have done."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what Python does with sys.exit("message")
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


@cli.command(
    "sandbox",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--verify-delay",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Seconds a record must exist before the emulated SES sees it.",
)
@click.option(
    "--provider",
    "sandbox_provider",
    type=click.Choice(["dnspod", "cloudflare", "route53"]),
    default="dnspod",
    show_default=True,
    help="Which emulated API hosts the demo zone (route53 needs `pip install 'dnsbridge[sandbox]'`).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def sandbox_command(ctx: click.Context, /, verify_delay: float, sandbox_provider: str, args: tuple[str, ...]) -> None:
    """Run a dnsbridge command against local emulators: no cloud account needed.

    \b
    Starts the Tencent Cloud (SES, DNSPod) emulator, the Cloudflare emulator or moto's Route 53
    (--provider), and an authoritative DNS server on 127.0.0.1, with a demo zone example.com,
    then runs ARGS against them, e.g.:
        dnsbridge sandbox onboard mail.example.com
        dnsbridge sandbox status mail.example.com
        dnsbridge sandbox serve     (keep running; prints the environment to use)
    """
    from dnsbridge.sandbox.world import Sandbox

    args = args or ("onboard", "mail.example.com")
    try:
        box = Sandbox(verify_delay=verify_delay, provider=sandbox_provider).start()
    except ImportError as exc:
        missing = UsageError(
            f"the {sandbox_provider} sandbox needs {exc.name}", hint="pip install 'dnsbridge[sandbox]'"
        )
        _fail(ctx, missing, "text")
        return
    try:
        _in_sandbox(ctx, box, sandbox_provider, args)
    finally:
        box.stop()


def _in_sandbox(ctx: click.Context, box: Sandbox, sandbox_provider: str, args: tuple[str, ...]) -> None:
    """Run ARGS as a dnsbridge command line, in this process, against the started sandbox."""
    env = box.env()
    if args[0] == "serve":
        for key, value in env.items():
            click.echo(f"export {key}={value}")
        click.echo("# sandbox running; Ctrl-C to stop", err=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return
    os.environ.update(env)
    verbosity = ctx.obj["verbosity"]
    flags = ["-q"] if verbosity < 0 else ["-v"] * verbosity
    endpoints = {
        "dnspod": env["DNSBRIDGE_DNSPOD_ENDPOINT"],
        "cloudflare": env.get("CLOUDFLARE_BASE_URL", ""),
        "route53": env.get("AWS_ENDPOINT_URL_ROUTE_53", ""),
    }
    log.info(
        "sandbox: SES %s, %s %s, DNS %s",
        env["DNSBRIDGE_SES_ENDPOINT"],
        sandbox_provider,
        endpoints[sandbox_provider],
        env["DNSBRIDGE_NAMESERVERS"],
    )
    try:
        # Not standalone: click then *returns* the command's exit code instead of exiting.
        code = cli.main(args=[*flags, *args], prog_name="dnsbridge sandbox", standalone_mode=False)
        ctx.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as done:
        ctx.exit(done.exit_code)
    except click.ClickException as exc:
        exc.show()
        ctx.exit(exc.exit_code)
