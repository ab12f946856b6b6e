// @ts-check
// The login form: POST /api/v1/auth/login sets the session cookie; then on to where the visitor was
// going (?next=) or to their role's home page (/ redirects by role).

import { api } from "./api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = /** @type {HTMLButtonElement} */ (document.getElementById("login-submit"));
const username = /** @type {HTMLInputElement} */ (document.getElementById("username"));
const password = /** @type {HTMLInputElement} */ (document.getElementById("password"));

function showError(message) {
  error.textContent = message;
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  if (!username.value.trim() || !password.value) {
    showError("Enter your user name and password.");
    (username.value.trim() ? password : username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "Logging in…";
  try {
    await api("auth/login", {
      method: "POST",
      body: { username: username.value.trim(), password: password.value },
      redirectOn401: false,
    });
    location.assign(form.dataset.next || "/");
  } catch (err) {
    if (err.status === 401) showError("Wrong user name or password.");
    else if (err.status === 429) showError(err.message);
    else if (err.status === 0) showError("The server cannot be reached. Check the Wi-Fi and try again.");
    else showError(`Logging in failed: ${err.message}`);
    password.select();
    password.focus();
    submit.disabled = false;
    submit.textContent = "Log in";
  }
});

username.focus();
