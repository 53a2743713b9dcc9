// The console's only script: copy buttons. Everything else works without JavaScript.
// data-copy="<input id>" copies an input's value, data-copy-text="<element id>" an element's text.
"use strict";
document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-copy], button[data-copy-text]");
    if (!button) return;
    const input = button.dataset.copy && document.getElementById(button.dataset.copy);
    const element = button.dataset.copyText && document.getElementById(button.dataset.copyText);
    const text = input ? input.value : element ? element.textContent.trim() : "";
    const label = button.textContent;
    try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
    } catch {
        // No clipboard access (plain HTTP on another host): select the text for Ctrl+C.
        if (input) input.select();
        button.textContent = "Press Ctrl+C";
    }
    setTimeout(() => (button.textContent = label), 2000);
});
