/* "Mijn school": catalogue search as you type for "Opleiding toevoegen" (through the plugin's ajax endpoint, never
   the sidecar directly). Without JavaScript the field takes a code. */
(function () {
    var input = document.getElementById('lop-catalogue-q');
    var list = document.getElementById('lop-catalogue-results');
    if (!input || !list || !window.lopMySchool) {
        return;
    }
    var config = window.lopMySchool;
    var timer = null;
    var latest = 0;

    function show(items, message) {
        list.textContent = '';
        if (message) {
            var li = document.createElement('li');
            li.className = 'lop-muted';
            li.textContent = message;
            list.appendChild(li);
        }
        items.forEach(function (item) {
            var li = document.createElement('li');
            var button = document.createElement('button');
            button.type = 'button';
            button.className = 'button-link lop-catalogue-item';
            var details = [item.onderwijsvorm, item.graad ? 'graad ' + item.graad : '', item.leerjaar ? 'leerjaar ' + item.leerjaar : '']
                .filter(Boolean).join(', ');
            button.textContent = item.code + ' – ' + item.description + (details ? ' (' + details + ')' : '');
            button.setAttribute('data-code', String(item.code));
            button.addEventListener('click', function () {
                input.value = item.code + ' – ' + item.description;
                list.textContent = '';
                input.focus();
            });
            li.appendChild(button);
            list.appendChild(li);
        });
    }

    function search() {
        var q = input.value.trim();
        if (q.length < 2) {
            show([], '');
            return;
        }
        var mine = ++latest;
        list.setAttribute('aria-busy', 'true');
        var url = config.ajaxUrl + '?action=' + encodeURIComponent(config.action) + '&_ajax_nonce='
            + encodeURIComponent(config.nonce) + '&q=' + encodeURIComponent(q);
        fetch(url, {credentials: 'same-origin'})
            .then(function (response) { return response.json(); })
            .then(function (body) {
                if (mine !== latest) {
                    return;
                }
                list.removeAttribute('aria-busy');
                if (!body || !body.success) {
                    show([], body && body.data && body.data.message ? body.data.message : config.none);
                    return;
                }
                show(body.data.items, body.data.items.length ? '' : config.none);
            })
            .catch(function () {
                if (mine === latest) {
                    list.removeAttribute('aria-busy');
                    show([], 'De LOP-service is tijdelijk niet bereikbaar.');
                }
            });
    }

    input.addEventListener('input', function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(search, 250);
    });
})();
