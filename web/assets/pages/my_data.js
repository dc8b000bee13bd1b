// "Download all my data": a patient's export (DESIGN.md §12) as one zip, with a progress
// bar while it arrives: their files, a FHIR R4 Bundle, and the ledger's events with the
// proofs that the export is exactly what the ledger holds. A caregiver with MANAGE
// downloads it for the person they look after. How to check it offline is said in words.

import { exportData } from '../api.js';
import { h, fill, errorBox, announce, bytes } from '../ui.js';

/**
 * The section; `patient` (an id) when a caregiver exports for someone, `expected` the
 * bytes of the files it holds (the zip is a little more), for the bar.
 */
export function dataSection({ patient = null, name = null, expected = 0 } = {}) {
  const bar = h('progress', { max: Math.max(expected, 1), value: 0, 'aria-label': 'Export progress', hidden: true });
  const said = h('p', { role: 'status' });
  const slot = h('div');
  const label = name ? `Download all of ${name}'s data` : 'Download all my data';
  const button = h('button', {
    type: 'button',
    onclick: async () => {
      button.disabled = true;
      fill(slot);
      bar.hidden = false;
      bar.value = 0;
      try {
        const { blob, name: file } = await exportData(patient, (n) => {
          bar.value = Math.min(n, bar.max);
          fill(said, `${bytes(n)} received…`);
        });
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: url, download: file }, file);
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        bar.value = bar.max;
        fill(said, `Done: ${file} (${bytes(blob.size)}).`);
        announce('Your export is downloaded.');
      } catch (error) {
        bar.hidden = true;
        fill(said);
        fill(slot, errorBox(error));
      } finally {
        button.disabled = false;
      }
    },
  }, label);
  return h('section', { class: 'card', 'aria-labelledby': 'data-heading' },
    h('h2', { id: 'data-heading' }, name ? `${name}'s data` : 'Your data'),
    h('p', {}, 'One zip with every file, your record in the FHIR format other health apps read, and the ledger entries with the proofs that it is exactly what MedChain holds. Anyone can check it offline with “medchain export verify” and the ledger\'s public key.'),
    button, bar, said, slot);
}
