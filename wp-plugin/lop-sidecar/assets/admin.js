/* Shared behaviour of the Extra screens: confirmations on forms that ask for them (data-lop-confirm). */
document.addEventListener('submit', function (event) {
    var question = event.target.getAttribute && event.target.getAttribute('data-lop-confirm');
    if (question && !window.confirm(question)) {
        event.preventDefault();
    }
});
