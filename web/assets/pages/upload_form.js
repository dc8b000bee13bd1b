// The upload form, shared by the patient's own records and a doctor adding a record to a
// patient's file (`patient`: whose file it goes into): title, description, the file,
// a progress bar, refusals in words.

import { uploadRecord } from '../api.js';
import { h, fill, field, form, announce } from '../ui.js';

export function uploadForm({ heading, patient = null, open = false }, uploaded) {
  const title = field('Title', { name: 'title', required: true, maxlength: 200 });
  const description = field('Description (optional)', { type: 'textarea', name: 'description', rows: 2 });
  const file = field('File', { type: 'file', name: 'file', required: true, accept: '.pdf,.png,.jpg,.jpeg,.dcm,.txt,.json,application/pdf,image/png,image/jpeg,application/dicom,text/plain,application/json' },
    'PDF, PNG, JPEG, DICOM, plain text or JSON. It is encrypted as it is uploaded.');
  const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Upload progress', hidden: true });
  const done = h('p', { role: 'status', class: 'muted' });
  return h('details', { class: 'card', open },
    h('summary', {}, heading),
    patient ? h('p', { class: 'small muted' },
      'The record becomes the patient\'s: they are told, they can read, share or erase it, and you keep reading it until they revoke your share of it.') : null,
    form({
      fields: [title, description, file, bar, done],
      submitLabel: 'Upload',
      submit: async (el) => {
        const chosen = file.input.files[0];
        if (!chosen) throw new Error('choose a file to upload');
        bar.hidden = false;
        bar.value = 0;
        fill(done, 'Uploading…');
        try {
          await uploadRecord({ title: title.input.value, description: description.input.value, patient, file: chosen },
            (fraction) => { bar.value = Math.round(fraction * 100); });
        } catch (error) {
          bar.hidden = true;
          fill(done);
          throw error;
        }
        bar.value = 100;
        fill(done, `Uploaded ${chosen.name}.`);
        announce(`Uploaded ${chosen.name}.`);
        el.reset();
        await uploaded();
      },
    }));
}
