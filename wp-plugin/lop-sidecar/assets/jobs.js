/* Extra > Synchronisaties: follow queued and running runs through the plugin's admin-ajax endpoint. */
(function () {
    'use strict';
    var texts = window.lopSidecarJobs || {};

    function follow(box) {
        var url = box.getAttribute('data-url') + '?action=lop_sidecar_run&run=' +
            encodeURIComponent(box.getAttribute('data-run')) + '&nonce=' + encodeURIComponent(box.getAttribute('data-nonce'));
        var status = box.querySelector('.lop-run-status');
        var bar = box.querySelector('.lop-run-bar');
        var count = box.querySelector('.lop-run-count');
        var summary = box.querySelector('.lop-run-summary');
        var failures = 0;

        function poll() {
            fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
                .then(function (response) { return response.json(); })
                .then(function (answer) {
                    if (!answer || !answer.success) {
                        failures += 1;
                        summary.textContent = (answer && answer.data && answer.data.message) || texts.unreachable || '';
                        window.setTimeout(poll, Math.min(10000, 1000 * failures));
                        return;
                    }
                    failures = 0;
                    var run = answer.data;
                    status.textContent = run.status_line;
                    box.className = 'lop-run lop-run-' + run.status;
                    if (bar) {
                        if (run.total) {
                            bar.max = run.total;
                            bar.value = run.done || 0;
                            if (count) { count.textContent = (run.done || 0) + ' / ' + run.total; }
                        } else {
                            bar.removeAttribute('value');
                        }
                    }
                    if (run.finished) {
                        if (bar && run.status === 'succeeded') { bar.max = 1; bar.value = 1; }
                        summary.textContent = run.summary || '';
                        summary.classList.toggle('lop-field-error', run.status === 'failed');
                        box.setAttribute('data-finished', '1');
                        return;
                    }
                    window.setTimeout(poll, 1000);
                })
                .catch(function () {
                    failures += 1;
                    summary.textContent = texts.unreachable || '';
                    window.setTimeout(poll, Math.min(10000, 1000 * failures));
                });
        }
        poll();
    }

    document.addEventListener('DOMContentLoaded', function () {
        document.querySelectorAll('.lop-run[data-finished="0"]').forEach(follow);
    });
})();
