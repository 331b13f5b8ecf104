/* School stats: the "nieuwe beheerder toevoegen" dialogs (native <dialog>); reopened after a refused address. */
(function () {
    function open(dialog) {
        if (dialog && typeof dialog.showModal === 'function' && !dialog.open) {
            dialog.showModal();
            var input = dialog.querySelector('input[type="email"]');
            if (input) { input.focus(); }
        }
    }
    document.addEventListener('click', function (event) {
        var opener = event.target.closest && event.target.closest('[data-lop-dialog]');
        if (opener) {
            open(document.getElementById(opener.getAttribute('data-lop-dialog')));
            return;
        }
        var closer = event.target.closest && event.target.closest('[data-lop-close]');
        if (closer) {
            closer.closest('dialog').close();
        }
    });
    document.querySelectorAll('dialog[data-lop-open]').forEach(open);
})();
