// The colour ramps of attnclf/explain/colours.py, evaluated in the browser exactly as its
// colour() and is_dark() do in Python. This file defines no ramp: each page hands its ramps
// over as data ([[t, [r, g, b]], ...], colours.ramp_data). The explanation page's row view
// and the live page of `attnclf serve` both start with it.
"use strict";
const attnclfColours = Object.freeze({
  // The ramp's colour at t, clamped to its ends, linear between neighbouring stops.
  colour(t, ramp) {
    t = Math.min(Math.max(t, ramp[0][0]), ramp[ramp.length - 1][0]);
    for (let i = 1; i < ramp.length; i++) {
      const [t0, c0] = ramp[i - 1];
      const [t1, c1] = ramp[i];
      if (t <= t1) {
        const f = (t - t0) / (t1 - t0);
        return c0.map((a, k) => Math.round(a + (c1[k] - a) * f));
      }
    }
    return ramp[ramp.length - 1][1];
  },
  // Whether white text reads better than black on rgb (WCAG relative luminance).
  isDark(rgb) {
    const [r, g, b] = rgb.map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2;
  },
});
