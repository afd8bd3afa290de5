// A server-made QR code drawn as an image: the counter code's (page-counter.js) and a booking's check-in code
// (page-booking.js). The server sends the dark modules as one SVG path (server/counter_code.py `qr_path`:
// {size, path}), drawn here without parsing markup.

const SVG = 'http://www.w3.org/2000/svg';

function attrs(node, values) { for (const [k, v] of Object.entries(values)) node.setAttribute(k, v); return node; }

/** The QR as an SVG image (240 px, a 4-module quiet zone) named `label`; null when `qr` holds none. */
export function qrImage(qr, label) {
  const look = { width: '240', height: '240', role: 'img', 'aria-label': label, class: 'qr', 'shape-rendering': 'crispEdges' };
  if (qr && typeof qr.path === 'string' && qr.size > 0) {
    const n = qr.size + 8;
    const svg = attrs(document.createElementNS(SVG, 'svg'), { viewBox: `-4 -4 ${n} ${n}`, ...look });
    svg.append(attrs(document.createElementNS(SVG, 'rect'), { x: '-4', y: '-4', width: String(n), height: String(n), fill: '#fff' }),
      attrs(document.createElementNS(SVG, 'path'), { d: qr.path, fill: '#000' }));
    return svg;
  }
  return null;
}
