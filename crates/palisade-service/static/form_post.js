// The OpenID provider's form_post answer: sends the form to the app at once (the button
// stays for a browser without scripts).
document.getElementById("oidc-form-post").submit();
