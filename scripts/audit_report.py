"""Read pip-audit's JSON report (folder, exit status): list known vulnerabilities; exit 1 on any."""
import json, sys
from pathlib import Path
folder, status = Path(sys.argv[1]), int(sys.argv[2])
try:
    deps = json.loads((folder / "audit.json").read_text())["dependencies"]
except (OSError, ValueError, KeyError):
    sys.exit("pip-audit did not run: " + " ".join((folder / "audit.log").read_text().split())[-600:])
vulnerable = [(d, v) for d in deps for v in d.get("vulns", [])]
for d, v in vulnerable:
    fix = ", ".join(v.get("fix_versions") or []) or "no fixed release"
    print(f"pip-audit: {d['name']} {d['version']}: {v['id']} ({', '.join(v.get('aliases') or [])}); fixed in {fix}")
skipped = [d["name"] for d in deps if d.get("skip_reason")]
print(f"pip-audit: {len(deps) - len(skipped)} of {len(deps)} pinned packages audited, {len(vulnerable)} known vulnerabilities"
      + (f"; {len(skipped)} the index has no advisory data for ({', '.join(skipped[:5])}{', ...' if len(skipped) > 5 else ''})" if skipped else ""))
sys.exit(1 if vulnerable or status not in (0, 1) or (status and not vulnerable) else 0)
