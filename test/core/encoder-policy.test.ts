import { expect } from 'chai';
import { DEFAULT_AVIF_MAX_OUTPUT_PIXELS, DEFAULT_MAX_DIMENSION } from '../../src/core/config.js';
import {
  AVIF_POLICY,
  avifQuality,
  avifSettings,
  encoderQuality,
  QUALITY_SCALE,
  WEBP_MATCH,
  WEBP_POLICY,
  webpQualityMatchingJpeg,
  webpSettings,
} from '../../src/core/encoder-policy.js';

const QUALITIES = Array.from({ length: 100 }, (_, i) => i + 1);

describe('encoder-policy', () => {
  describe('QUALITY_SCALE', () => {
    for (const format of ['webp', 'avif'] as const) {
      it(`${format}: both columns rise and stay within 1..100`, () => {
        const table = QUALITY_SCALE[format];
        expect(table.length).to.be.greaterThan(1);
        for (let i = 1; i < table.length; i++) {
          const [jpeg, own] = table[i] as readonly [number, number];
          const [jpeg0, own0] = table[i - 1] as readonly [number, number];
          expect(jpeg, 'JPEG column strictly rises').to.be.greaterThan(jpeg0);
          expect(own, 'encoder column never falls').to.be.at.least(own0);
        }
        for (const [jpeg, own] of table) {
          expect(jpeg).to.be.within(1, 100);
          expect(own).to.be.within(1, 100);
        }
      });
    }
  });

  describe('encoderQuality', () => {
    it('hands JPEG and PNG the quality unchanged', () => {
      for (const q of QUALITIES) {
        expect(encoderQuality('jpeg', q)).to.equal(q);
        expect(encoderQuality('png', q)).to.equal(q);
      }
    });

    for (const format of ['webp', 'avif'] as const) {
      it(`${format}: an integer in 1..100 for every quality 1..100, never falling`, () => {
        let previous = 0;
        for (const q of QUALITIES) {
          const own = encoderQuality(format, q);
          expect(Number.isInteger(own), `q${q} → ${own}`).to.equal(true);
          expect(own, `q${q}`).to.be.within(1, 100);
          expect(own, `q${q} is not below q${q - 1}`).to.be.at.least(previous);
          previous = own;
        }
        expect(encoderQuality(format, 100)).to.equal(100);
      });

      it(`${format}: meets the calibrated table at its points`, () => {
        for (const [jpeg, own] of QUALITY_SCALE[format]) expect(encoderQuality(format, jpeg)).to.equal(own);
      });

      it(`${format}: interpolates between the table's points`, () => {
        const [[j0, o0], [j1, o1]] = QUALITY_SCALE[format] as unknown as [[number, number], [number, number]];
        const mid = encoderQuality(format, Math.round((j0 + j1) / 2));
        expect(mid).to.be.within(Math.min(o0, o1), Math.max(o0, o1));
      });

      it(`${format}: clamps a quality outside 1..100`, () => {
        expect(encoderQuality(format, 0)).to.equal(encoderQuality(format, 1));
        expect(encoderQuality(format, -5)).to.equal(encoderQuality(format, 1));
        expect(encoderQuality(format, 250)).to.equal(100);
        expect(encoderQuality(format, 80.4)).to.be.a('number').and.satisfy(Number.isInteger);
      });
    }
  });

  describe('avifSettings', () => {
    const pixelCounts = [1, 100 * 100, 400 * 267, 640 * 427, 800 * 533, 1200 * 800, 1600 * 1067, 2560 * 1600];
    pixelCounts.push(DEFAULT_AVIF_MAX_OUTPUT_PIXELS, DEFAULT_MAX_DIMENSION * DEFAULT_MAX_DIMENSION, 1e9);

    it('gives an integer effort 0..9 for any size, from 1 pixel to beyond the cap', () => {
      for (const pixels of pixelCounts) {
        const { effort } = avifSettings(pixels);
        expect(Number.isInteger(effort) && effort >= 0 && effort <= 9, `effort ${effort} at ${pixels}`).to.equal(true);
      }
    });

    it('returns only options that sharp.avif() knows, since the transform spreads them into it', () => {
      for (const pixels of pixelCounts) expect(Object.keys(avifSettings(pixels))).to.deep.equal(['effort']);
    });

    it('never uses an effort slower than 3, the fast effort 1 at 400 px, and the fastest one above the stage cap', () => {
      for (const pixels of pixelCounts) expect(avifSettings(pixels).effort).to.be.at.most(3);
      // Bench row 6's 400 px miss (2560×1600 → 400×250) must stay within 2.5× a JPEG miss.
      expect(avifSettings(400 * 250).effort).to.equal(1);
      expect(avifSettings(DEFAULT_AVIF_MAX_OUTPUT_PIXELS).effort).to.equal(3);
      expect(avifSettings(DEFAULT_AVIF_MAX_OUTPUT_PIXELS + 1).effort).to.equal(0);
      expect(avifSettings(DEFAULT_MAX_DIMENSION * DEFAULT_MAX_DIMENSION).effort).to.equal(0);
    });

    it('avifQuality: the mapped quality plus the band offset, within 1..100 and never falling with q', () => {
      for (const pixels of pixelCounts) {
        let previous = 0;
        for (const q of QUALITIES) {
          const own = avifQuality(q, pixels);
          expect(own, `q${q} at ${pixels}`).to.be.within(1, 100);
          expect(own).to.be.at.least(previous);
          expect(own).to.be.at.least(encoderQuality('avif', q));
          previous = own;
        }
      }
      for (const b of AVIF_POLICY) {
        expect(avifQuality(80, b.maxPixels)).to.equal(Math.min(100, encoderQuality('avif', 80) + b.qualityOffset));
      }
    });

    it('follows the policy table band by band, the last band open-ended', () => {
      for (const band of AVIF_POLICY) {
        expect(avifSettings(band.maxPixels).effort).to.equal(band.effort);
      }
      const last = AVIF_POLICY[AVIF_POLICY.length - 1];
      expect(last?.maxPixels).to.equal(Number.POSITIVE_INFINITY);
      for (let i = 1; i < AVIF_POLICY.length; i++) {
        const band = AVIF_POLICY[i] as (typeof AVIF_POLICY)[number];
        const below = AVIF_POLICY[i - 1] as (typeof AVIF_POLICY)[number];
        expect(band.maxPixels).to.be.greaterThan(below.maxPixels);
        expect(avifSettings(below.maxPixels + 1).effort).to.equal(band.effort);
      }
    });

    it('treats a zero, negative or fractional pixel count like the smallest output', () => {
      expect(avifSettings(0)).to.deep.equal(avifSettings(1));
      expect(avifSettings(-10)).to.deep.equal(avifSettings(1));
      expect(avifSettings(Number.NaN)).to.deep.equal(avifSettings(1));
    });

    it('keeps the stage cap on AVIF output pixels inside a band measured to fit the budget', () => {
      expect(DEFAULT_AVIF_MAX_OUTPUT_PIXELS).to.be.greaterThan(400 * 400);
      expect(DEFAULT_AVIF_MAX_OUTPUT_PIXELS).to.be.at.most(DEFAULT_MAX_DIMENSION * DEFAULT_MAX_DIMENSION);
    });
  });

  describe('webpSettings', () => {
    it('effort 6 up to the AVIF cap, effort 4 above, defined for any pixel count', () => {
      expect(webpSettings(400 * 300).effort).to.equal(6);
      expect(webpSettings(DEFAULT_AVIF_MAX_OUTPUT_PIXELS).effort).to.equal(6);
      expect(webpSettings(DEFAULT_MAX_DIMENSION * DEFAULT_MAX_DIMENSION).effort).to.equal(4);
      for (const n of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(webpSettings(n).effort).to.be.oneOf(WEBP_POLICY.map((b) => b.effort));
      }
    });
  });

  describe('webpQualityMatchingJpeg', () => {
    it('is the table at the pivot, higher for smooth pictures, lower for detailed ones', () => {
      expect(webpQualityMatchingJpeg(80, WEBP_MATCH.pivotBitsPerPixel)).to.equal(encoderQuality('webp', 80));
      expect(webpQualityMatchingJpeg(80, 0.3)).to.equal(87); // 82 + 8.57 × 0.61
      expect(webpQualityMatchingJpeg(80, 2)).to.equal(73); // 82 − 8.57 × 1.09
    });

    it('never moves further than its clamp, stays in 1..100 and never falls as the JPEG quality rises', () => {
      for (const bpp of [0.01, 0.5, 1, 3, 24, 0, -1, Number.NaN]) {
        let previous = 0;
        for (const q of QUALITIES) {
          const own = webpQualityMatchingJpeg(q, bpp);
          const table = encoderQuality('webp', q);
          expect(own, `q${q} at ${bpp} bpp`).to.be.within(1, 100);
          expect(own - table).to.be.within(WEBP_MATCH.offset.min - 1, WEBP_MATCH.offset.max + 1);
          expect(own).to.be.at.least(previous);
          previous = own;
        }
      }
    });
  });
});
