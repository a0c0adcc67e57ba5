"""The web app's look: a Gradio theme and the CSS for callcoach's own HTML fragments.

System fonts only: the app runs offline, and a web font would stall the first paint.
"""

from __future__ import annotations

from rubrics.scorecard import SCORECARD_CSS

FONTS = ["Inter", "Segoe UI", "system-ui", "-apple-system", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["JetBrains Mono", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def make_theme():
    import gradio as gr

    return gr.themes.Soft(primary_hue="teal", secondary_hue="slate", neutral_hue="slate", font=FONTS, font_mono=MONO).set(
        body_background_fill="#f4f6f9",
        block_radius="10px",
        button_large_radius="8px",
        button_small_radius="6px",
    )


APP_CSS = (
    SCORECARD_CSS
    + """
.gradio-container{max-width:1240px !important;margin:0 auto !important}
footer{display:none !important}
#cc-header{display:flex;align-items:center;justify-content:space-between;padding:6px 2px 2px}
#cc-header .cc-brand{display:flex;align-items:center;gap:12px}
#cc-header .cc-logo{width:40px;height:40px;border-radius:10px;background:#0f766e;color:white;display:flex;align-items:center;justify-content:center;font-weight:800;font-size:18px}
#cc-header h1{font-size:22px;margin:0;line-height:1.1}
#cc-header .cc-tagline{color:#64748b;font-size:13px}
#cc-status{font-size:12px;color:#475569;text-align:right}
#cc-status .cc-dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px;background:#f59e0b}
#cc-status .cc-ready{background:#10b981}#cc-status .cc-failed{background:#ef4444}
#cc-header-side{gap:4px !important;align-items:flex-end}
#cc-lang .wrap{justify-content:flex-end;gap:4px}
#cc-lang label{padding:2px 10px !important;font-size:12px !important;min-height:0 !important}
.cc-step h3{margin:6px 0 2px !important;font-size:16px !important}
.cc-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:12px;padding:4px 0 8px}
.cc-card{all:unset;box-sizing:border-box;cursor:pointer;background:white;border:1px solid #dbe2ea;border-radius:12px;padding:12px 14px;display:flex;flex-direction:column;gap:8px;transition:box-shadow .15s,border-color .15s}
.cc-card:hover{border-color:#5eb3aa;box-shadow:0 2px 10px rgba(15,118,110,.12)}
.cc-card:focus-visible{outline:2px solid #0f766e}
.cc-card.cc-selected{border:2px solid #0f766e;box-shadow:0 0 0 3px rgba(15,118,110,.15);padding:11px 13px}
.cc-card-top{display:flex;align-items:center;gap:10px}
.cc-avatar{width:34px;height:34px;border-radius:50%;display:flex;align-items:center;justify-content:center;font-weight:700;font-size:13px;color:white;background:#64748b;flex:none}
.cc-t-hostile{background:#b91c1c}.cc-t-cooperative{background:#15803d}.cc-t-distressed{background:#7c3aed}.cc-t-evasive{background:#a16207}
.cc-t-disputing{background:#c2410c}.cc-t-wrong_party{background:#0369a1}.cc-t-vulnerable{background:#be185d}.cc-t-represented{background:#334155}
.cc-card-name{font-weight:700;font-size:15px;color:#0f172a;flex:1}
.cc-diff{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;border-radius:999px;padding:2px 8px}
.cc-d-easy{background:#dcfce7;color:#166534}.cc-d-medium{background:#fef3c7;color:#92400e}.cc-d-hard{background:#fee2e2;color:#991b1b}
.cc-card-sit{font-size:13px;color:#334155;line-height:1.4;min-height:36px}
.cc-card-meta{margin-top:auto;display:flex;justify-content:space-between;align-items:center;font-size:12px;color:#64748b}
.cc-tag{background:#f1f5f9;border-radius:6px;padding:2px 8px;color:#334155}
.cc-panel,.cc-coach,.cc-hint{background:white;border:1px solid #dbe2ea;border-radius:12px;padding:12px 14px;margin-bottom:10px}
.cc-panel-name{font-weight:700;font-size:16px}
.cc-panel-sub{font-size:12px;color:#64748b}
.cc-mood{margin:8px 0 6px;font-size:14px}
.cc-meter{margin:6px 0}.cc-meter-head{display:flex;justify-content:space-between;font-size:12px;color:#475569}
.cc-meter-bar{height:8px;background:#e2e8f0;border-radius:4px;overflow:hidden}
.cc-meter-bar div{height:100%;transition:width .4s}
.cc-m-trust{background:#0f766e}.cc-m-anger{background:#dc2626}.cc-m-distress{background:#7c3aed}
.cc-sec{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.06em;color:#64748b;margin:12px 0 6px}
.cc-panel .cc-sec:first-of-type{margin-top:12px}
.cc-facts{margin:0;padding-left:18px;font-size:13px}.cc-facts li{margin:3px 0}
.cc-muted{color:#64748b;font-size:13px}
.cc-checklist{list-style:none;margin:0;padding:0;font-size:13px}
.cc-checklist li{margin:3px 0;padding-left:22px;position:relative}
.cc-checklist li::before{position:absolute;left:0;top:0;width:16px;text-align:center}
.cc-done::before{content:"\\2714";color:#0f766e}.cc-todo::before{content:"\\25CB";color:#94a3b8}
.cc-ended{margin-top:10px;padding:6px 10px;background:#f1f5f9;border-radius:8px;font-size:13px;font-weight:600}
.cc-flags{list-style:none;margin:0;padding:0}
.cc-flag{display:flex;gap:8px;align-items:flex-start;font-size:13px;padding:6px 8px;border-radius:8px;margin:4px 0}
.cc-f-stop{background:#fef2f2;color:#7f1d1d}.cc-f-warn{background:#fffbeb;color:#78350f}.cc-f-good{background:#f0fdf4;color:#14532d}
.cc-earlier .cc-flag{opacity:.8}
.cc-fquote{display:block;margin-top:2px;font-style:italic;opacity:.85}
.cc-ficon{flex:none;width:18px;height:18px;border-radius:50%;display:inline-flex;align-items:center;justify-content:center;font-size:11px;font-weight:800;color:white;margin-top:1px}
.cc-f-stop .cc-ficon{background:#dc2626}.cc-f-warn .cc-ficon{background:#d97706}.cc-f-good .cc-ficon{background:#16a34a}
#cc-chat button[aria-label="Clear"],#cc-chat button[title="Clear"]{display:none !important}
.cc-hint{background:#f0fdfa;border-color:#99d5cc}.cc-hint-text{font-size:14px;color:#134e4a}
.cc-empty{color:#64748b;padding:18px;text-align:center;background:white;border:1px dashed #cbd5e1;border-radius:12px}
.cc-valid{color:#0f766e;font-weight:600}
.cc-problems{margin:0;padding:0;list-style:none}
.cc-problems li{background:#fef2f2;border-left:4px solid #b91c1c;padding:6px 10px;margin:4px 0;border-radius:4px;font-size:13px}
.cc-problems code{background:#fee2e2;padding:0 4px;border-radius:3px}
#cc-chat .message-row .message{font-size:15px}
.cc-online{display:flex;align-items:center;gap:10px;flex-wrap:wrap;padding:2px 2px 4px}
.cc-online .cc-muted{flex-basis:100%;font-size:12px}
.cc-live{font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;color:#047857;background:#d1fae5;border-radius:999px;padding:2px 9px}
.cc-live::before{content:"";display:inline-block;width:7px;height:7px;border-radius:50%;background:#10b981;margin-right:6px;vertical-align:1px}
.cc-live.cc-off{color:#475569;background:#e2e8f0}.cc-live.cc-off::before{background:#94a3b8}
.cc-tiles{display:flex;gap:10px;flex-wrap:wrap;margin:4px 0 8px}
.cc-tile{background:white;border:1px solid #dbe2ea;border-radius:10px;padding:8px 14px;min-width:96px}
.cc-tile-v{font-size:22px;font-weight:700;color:#0f172a}.cc-tile-k{font-size:12px;color:#64748b}
.cc-error{background:#fef2f2;border:1px solid #fecaca;border-left:4px solid #b91c1c;color:#7f1d1d;border-radius:8px;padding:8px 12px;font-size:14px;margin:4px 0}
.cc-notice{background:#f0fdfa;border:1px solid #99d5cc;border-left:4px solid #0f766e;color:#134e4a;border-radius:8px;padding:8px 12px;font-size:14px;margin:4px 0}
.cc-warnings li{background:#fffbeb;border-left-color:#d97706}
.cc-test{background:#fef3c7;color:#92400e;font-size:11px;font-weight:600}
/* table headers wrap between words, never inside one ("Complianc e") */
.table-wrap th, .table-wrap th *{word-break:normal !important;overflow-wrap:normal !important;hyphens:none}
@media (max-width:640px){
  #cc-header{flex-wrap:wrap;gap:4px}
  #cc-header .cc-tagline{display:none}
  #cc-status{text-align:left;flex-basis:100%}
  .cc-cards{grid-template-columns:1fr}
  #cc-setup .row{flex-wrap:wrap !important}
  #cc-name,#cc-exam{flex:1 1 100% !important;min-width:100% !important}
}
"""
)
