/**
 * Name, place and personality lists for the offline profile simulation. Names are grouped by
 * broad region so that a simulated profile is plausible for its sampled ethnicity.
 */
export type Region =
  'east_asian' | 'south_asian' | 'southeast_asian' | 'african' | 'european' | 'latin_american' | 'mena' | 'indigenous' | 'mixed';

export function regionOf(ethnicity: string): Region {
  const e = ethnicity.toLowerCase();
  if (e.includes('southeast')) return 'southeast_asian';
  if (e.includes('east asian')) return 'east_asian';
  if (e.includes('south asian')) return 'south_asian';
  if (e.includes('africa') && !e.includes('north')) return 'african';
  if (e.includes('middle east') || e.includes('north africa') || e.includes('arab')) return 'mena';
  if (e.includes('latin') || e.includes('hispanic')) return 'latin_american';
  if (e.includes('europe') || e.includes('white')) return 'european';
  if (e.includes('indigenous') || e.includes('pacific')) return 'indigenous';
  return 'mixed';
}

interface RegionNames {
  female: string[];
  male: string[];
  neutral: string[];
  surnames: string[];
  places: Array<[city: string, nationality: string]>;
  languages: string[];
}

export const REGIONS: Record<Region, RegionNames> = {
  east_asian: {
    female: ['Mei', 'Yuna', 'Haruka', 'Ji-woo', 'Xiaoling', 'Aiko', 'Seo-yeon', 'Lan'],
    male: ['Haruto', 'Wei', 'Min-jun', 'Kenji', 'Jun', 'Hao', 'Daichi', 'Seung-ho'],
    neutral: ['Yu', 'Hikaru', 'Min', 'Ren'],
    surnames: ['Tanaka', 'Chen', 'Kim', 'Watanabe', 'Liu', 'Park', 'Zhang', 'Sato'],
    places: [
      ['Osaka, Japan', 'Japanese'],
      ['Busan, South Korea', 'South Korean'],
      ['Chengdu, China', 'Chinese'],
      ['Taipei, Taiwan', 'Taiwanese'],
      ['Sapporo, Japan', 'Japanese'],
    ],
    languages: ['Japanese', 'Korean', 'Mandarin Chinese', 'Cantonese'],
  },
  south_asian: {
    female: ['Priya', 'Ananya', 'Fatima', 'Nisha', 'Sanjana', 'Ayesha', 'Kavya', 'Ruksana'],
    male: ['Arjun', 'Rohan', 'Imran', 'Vikram', 'Sameer', 'Karthik', 'Farhan', 'Nikhil'],
    neutral: ['Kiran', 'Noor', 'Sasha', 'Ashwin'],
    surnames: ['Sharma', 'Iyer', 'Khan', 'Patel', 'Rahman', 'Reddy', 'Perera', 'Chowdhury'],
    places: [
      ['Pune, India', 'Indian'],
      ['Dhaka, Bangladesh', 'Bangladeshi'],
      ['Lahore, Pakistan', 'Pakistani'],
      ['Colombo, Sri Lanka', 'Sri Lankan'],
      ['Bengaluru, India', 'Indian'],
    ],
    languages: ['Hindi', 'Bengali', 'Urdu', 'Tamil', 'Sinhala', 'Marathi'],
  },
  southeast_asian: {
    female: ['Mai', 'Siti', 'Maricel', 'Linh', 'Putri', 'Ploy', 'Angelica', 'Thu'],
    male: ['Minh', 'Rizal', 'Jomar', 'Arif', 'Somchai', 'Bayu', 'Paolo', 'Duc'],
    neutral: ['Ari', 'Kai', 'Sam', 'Dara'],
    surnames: ['Nguyen', 'Santos', 'Wijaya', 'Tran', 'Reyes', 'Rahim', 'Chaiyaporn', 'Lim'],
    places: [
      ['Cebu City, Philippines', 'Filipino'],
      ['Hanoi, Vietnam', 'Vietnamese'],
      ['Yogyakarta, Indonesia', 'Indonesian'],
      ['Penang, Malaysia', 'Malaysian'],
      ['Chiang Mai, Thailand', 'Thai'],
    ],
    languages: ['Tagalog', 'Vietnamese', 'Indonesian', 'Malay', 'Thai'],
  },
  african: {
    female: ['Amara', 'Wanjiru', 'Chiamaka', 'Thandiwe', 'Abena', 'Nia', 'Zanele', 'Fatoumata'],
    male: ['Kwame', 'Tunde', 'Sipho', 'Baraka', 'Kofi', 'Emeka', 'Tendai', 'Moussa'],
    neutral: ['Ayo', 'Jabari', 'Imani', 'Sefa'],
    surnames: ['Mensah', 'Okafor', 'Dlamini', 'Mwangi', 'Diallo', 'Banda', 'Adeyemi', 'Nkosi'],
    places: [
      ['Accra, Ghana', 'Ghanaian'],
      ['Nairobi, Kenya', 'Kenyan'],
      ['Lagos, Nigeria', 'Nigerian'],
      ['Durban, South Africa', 'South African'],
      ['Dakar, Senegal', 'Senegalese'],
    ],
    languages: ['Swahili', 'Yoruba', 'Twi', 'Zulu', 'Wolof', 'Igbo'],
  },
  european: {
    female: ['Clara', 'Ingrid', 'Sofia', 'Hannah', 'Elena', 'Aoife', 'Marta', 'Lucy'],
    male: ['Lukas', 'Tomasz', 'Matteo', 'Oliver', 'Pieter', 'Javier', 'Erik', 'Callum'],
    neutral: ['Robin', 'Alex', 'Sasha', 'Noa'],
    surnames: ['Novak', 'Jensen', 'Rossi', 'Murphy', 'Kowalski', 'Schneider', 'Dubois', 'Whitaker'],
    places: [
      ['Leeds, United Kingdom', 'British'],
      ['Lyon, France', 'French'],
      ['Kraków, Poland', 'Polish'],
      ['Bologna, Italy', 'Italian'],
      ['Gothenburg, Sweden', 'Swedish'],
      ['Rotterdam, Netherlands', 'Dutch'],
    ],
    languages: ['French', 'German', 'Polish', 'Italian', 'Spanish', 'Swedish', 'Dutch'],
  },
  latin_american: {
    female: ['Camila', 'Valentina', 'Lucía', 'Mariana', 'Ximena', 'Gabriela', 'Daniela', 'Rosa'],
    male: ['Mateo', 'Santiago', 'Diego', 'Joaquín', 'Thiago', 'Andrés', 'Rafael', 'Emiliano'],
    neutral: ['Ariel', 'Cruz', 'Guadalupe', 'René'],
    surnames: ['García', 'Rodríguez', 'Silva', 'Hernández', 'Souza', 'Morales', 'Castillo', 'Vargas'],
    places: [
      ['Guadalajara, Mexico', 'Mexican'],
      ['Medellín, Colombia', 'Colombian'],
      ['Recife, Brazil', 'Brazilian'],
      ['Córdoba, Argentina', 'Argentine'],
      ['Lima, Peru', 'Peruvian'],
    ],
    languages: ['Spanish', 'Portuguese', 'Quechua'],
  },
  mena: {
    female: ['Layla', 'Yasmin', 'Nour', 'Salma', 'Dina', 'Mariam', 'Zeynep', 'Rana'],
    male: ['Omar', 'Karim', 'Youssef', 'Tariq', 'Amir', 'Hamza', 'Emre', 'Sami'],
    neutral: ['Noor', 'Rayan', 'Jude', 'Sahar'],
    surnames: ['Haddad', 'Mansour', 'El-Sayed', 'Benali', 'Yilmaz', 'Khalil', 'Nasser', 'Farouk'],
    places: [
      ['Amman, Jordan', 'Jordanian'],
      ['Casablanca, Morocco', 'Moroccan'],
      ['Alexandria, Egypt', 'Egyptian'],
      ['Izmir, Turkey', 'Turkish'],
      ['Beirut, Lebanon', 'Lebanese'],
    ],
    languages: ['Arabic', 'Turkish', 'Persian', 'French'],
  },
  indigenous: {
    female: ['Aiyana', 'Kaya', 'Mere', 'Nayeli', 'Tala', 'Ahiga', 'Huata', 'Sisika'],
    male: ['Tane', 'Koa', 'Nayati', 'Wiremu', 'Ahanu', 'Kele', 'Rangi', 'Tokala'],
    neutral: ['Aroha', 'Kai', 'Sky', 'River'],
    surnames: ['Ngata', 'Begay', 'Whitehorse', 'Tipene', 'Yazzie', 'Manuel', 'Parata', 'Redcloud'],
    places: [
      ['Rotorua, New Zealand', 'New Zealander'],
      ['Gallup, United States', 'American'],
      ['Winnipeg, Canada', 'Canadian'],
      ['Cusco, Peru', 'Peruvian'],
      ['Darwin, Australia', 'Australian'],
    ],
    languages: ['Māori', 'Navajo', 'Cree', 'Quechua'],
  },
  mixed: {
    female: ['Maya', 'Leila', 'Zoe', 'Naomi', 'Alina', 'Jasmine', 'Elisa', 'Tessa'],
    male: ['Noah', 'Julian', 'Adrian', 'Marcus', 'Elias', 'Rafael', 'Isaac', 'Dominic'],
    neutral: ['Jordan', 'Casey', 'Avery', 'Quinn'],
    surnames: ['Costa', 'Bennett', 'Ibrahim', 'Okoye', 'Larsen', 'Moreau', 'Tan', 'Alvarez'],
    places: [
      ['Toronto, Canada', 'Canadian'],
      ['Melbourne, Australia', 'Australian'],
      ['Houston, United States', 'American'],
      ['London, United Kingdom', 'British'],
      ['São Paulo, Brazil', 'Brazilian'],
    ],
    languages: ['Spanish', 'French', 'Portuguese', 'Arabic', 'Mandarin Chinese'],
  },
};

export const TRAITS = [
  'Curious',
  'Patient',
  'Organised',
  'Warm',
  'Stubborn',
  'Witty',
  'Reserved',
  'Practical',
  'Anxious about deadlines',
  'Generous',
  'Detail-oriented',
  'Restless',
  'Sceptical',
  'Optimistic',
  'Blunt but kind',
  'Easily distracted',
  'Loyal',
  'Self-deprecating',
  'Methodical',
  'Impulsive',
];
export const VALUES = [
  'Family',
  'Honesty',
  'Independence',
  'Community',
  'Fairness',
  'Craftsmanship',
  'Learning',
  'Security',
  'Faith',
  'Creativity',
  'Health',
  'Loyalty',
  'Adventure',
  'Tradition',
  'Sustainability',
];
export const HOBBIES = [
  'Walking',
  'Reading the news',
  'Cooking for friends',
  'Podcasts',
  'Board games',
  'Gardening',
  'Sketching',
  'Cycling',
  'Puzzles',
  'Local history',
  'Swimming',
  'Fixing things',
  'Journaling',
  'Karaoke',
  'Birdwatching',
];
export const SPEAKING_STYLES = [
  'Short, direct messages; asks for bullet points and skips pleasantries',
  'Chatty and warm; thanks the assistant and adds small personal asides',
  'Careful and formal; writes full sentences and double-checks facts',
  'Casual, lower-case, lots of quick follow-up questions',
  'Precise and technical; wants the reasoning, not just the answer',
  'Self-deprecating humour; apologises for long messages',
  'Practical and brisk; asks for the next concrete step',
];
export const EDUCATION = [
  'Secondary school diploma',
  'Vocational certificate',
  'Associate degree',
  "Bachelor's degree",
  "Master's degree",
  'Doctorate',
  'Some university, unfinished',
  'Apprenticeship',
];
