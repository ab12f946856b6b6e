// @ts-check
// A beep (WebAudio, no sound file) and a vibration when a new alert arrives.
//
// Browsers allow sound and vibration only after the person has touched the page, so the signal is
// armed by the first tap or key press anywhere (or by the sound button itself). The choice to keep
// sound off is remembered on the phone.

const PREFERENCE_KEY = "hallwatch.sound";

export class AlertSignal {
  #button;
  #label;
  #context = null;
  #armed = false;
  #enabled = localStorage.getItem(PREFERENCE_KEY) !== "off";

  constructor(button, label) {
    this.#button = button;
    this.#label = label;
    const arm = () => this.#arm();
    for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, arm, { capture: true, once: true });
    button?.addEventListener("click", () => this.#toggle());
    this.#render();
  }

  get armed() {
    return this.#armed;
  }

  get enabled() {
    return this.#enabled;
  }

  /** Beep and vibrate (if armed and on): two tones for a warning, three for a critical alert. */
  play(severity = "warning") {
    if (!this.#armed || !this.#enabled) return false;
    const critical = severity === "critical";
    navigator.vibrate?.(critical ? [300, 120, 300, 120, 300] : [220, 120, 220]);
    const ctx = this.#context;
    if (!ctx) return true;
    if (ctx.state === "suspended") ctx.resume();
    const t0 = ctx.currentTime + 0.02;
    const starts = critical ? [0, 0.24, 0.48] : [0, 0.24];
    starts.forEach((start, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "triangle";
      osc.frequency.value = i % 2 ? 1175 : 880;
      gain.gain.setValueAtTime(0.0001, t0 + start);
      gain.gain.exponentialRampToValueAtTime(0.35, t0 + start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + start + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + start);
      osc.stop(t0 + start + 0.22);
    });
    return true;
  }

  #arm() {
    if (this.#armed) return;
    this.#armed = true;
    // Safari before 14.1 names it webkitAudioContext.
    const Context = window.AudioContext || /** @type {any} */ (window).webkitAudioContext;
    if (Context) {
      try {
        this.#context = new Context();
        this.#context.resume?.();
      } catch {
        this.#context = null; // no audio device: vibration still works
      }
    }
    this.#render();
  }

  #toggle() {
    if (!this.#armed) {
      this.#arm();
      this.#enabled = true;
    } else {
      this.#enabled = !this.#enabled;
    }
    localStorage.setItem(PREFERENCE_KEY, this.#enabled ? "on" : "off");
    this.#render();
    if (this.#enabled) this.play("info");
  }

  #render() {
    if (!this.#button) return;
    const on = this.#armed && this.#enabled;
    this.#button.setAttribute("aria-pressed", String(on));
    this.#label.textContent = !this.#armed ? "Tap to turn on sound" : on ? "Sound on" : "Sound off";
  }
}
