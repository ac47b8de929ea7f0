(function(){
'use strict';
var token=new URLSearchParams(location.search).get('token')||'', MAX_STREAMS=4, MAX_EVENTS=100;
function url(path,params){
  var q=[]; if(token) q.push('token='+encodeURIComponent(token));
  Object.keys(params||{}).forEach(function(k){ q.push(k+'='+encodeURIComponent(params[k])); });
  return path+(q.length?'?'+q.join('&'):'');
}
function fileUrl(rel){
  var m=/^(snapshots|clips)\/([^\/\\]+)$/.exec(typeof rel==='string'?rel:'');
  return m?url('/'+m[1]+'/'+encodeURIComponent(m[2])):null;
}
function own(o,k){ return o!==null&&typeof o==='object'&&Object.prototype.hasOwnProperty.call(o,k); }
function isObj(v){ return v!==null&&typeof v==='object'&&!Array.isArray(v); }
function el(tag,cls,text){
  var e=document.createElement(tag); if(cls) e.className=cls;
  if(text!==undefined&&text!==null) e.textContent=String(text); return e;
}
function row(tbody,label,value){
  var tr=el('tr'); tr.appendChild(el('td',null,label)); tr.appendChild(el('td',null,value)); tbody.appendChild(tr);
}
function num(v,unit){
  if(typeof v==='number'){ var t=Number.isInteger(v)?String(v):v.toFixed(2); return unit?t+' '+unit:t; }
  if(typeof v==='boolean') return v?'yes':'no';
  if(isObj(v)) return Object.keys(v).map(function(k){ return k+' '+num(v[k]); }).join(' \u00b7 ');
  return v===null||v===undefined?'':String(v);
}
function getJSON(path,params){
  return fetch(url(path,params),{cache:'no-store'}).then(function(r){
    if(r.status===401) throw new Error('not authorized: open this page with ?token=YOUR_TOKEN');
    if(!r.ok) throw new Error('HTTP '+r.status);
    return r.json();
  });
}

var camsBox=document.getElementById('cameras'), cams=new Map();
function camera(name){
  name=String(name); if(cams.has(name)) return cams.get(name);
  var c={stream:cams.size<MAX_STREAMS, path:encodeURIComponent(name)}, card=el('section','cam'), h=el('h2');
  c.dot=el('span','dot'); h.appendChild(c.dot); h.appendChild(el('span','name',name));
  c.img=el('img','live'); c.img.alt='live view of '+name;
  c.counts=el('tbody'); c.figs=el('tbody'); c.err=el('div','err');
  var t1=el('table','counts'), t2=el('table','figs'); t1.appendChild(c.counts); t2.appendChild(c.figs);
  [h,c.img,t1,t2,c.err].forEach(function(x){ card.appendChild(x); });
  card.dataset.camera=name;
  if(c.stream){
    c.img.addEventListener('error',function(){
      setTimeout(function(){ c.img.src=url('/stream/'+c.path+'.mjpg',{retry:Date.now()}); },2000);
    });
    c.img.src=url('/stream/'+c.path+'.mjpg');
  }
  cams.set(name,c); camsBox.appendChild(card); return c;
}
function cameraStatus(doc,name){
  var cs=own(doc,'cameras')?doc.cameras:null;
  if(Array.isArray(cs)) return cs.filter(function(s){ return isObj(s)&&String(s.name)===name; })[0]||null;
  return own(cs,name)&&isObj(cs[name])?cs[name]:null;
}
var FIGURES=[['frames_in','frames in'],['frames_analyzed','analyzed'],['frames_dropped','dropped'],['lag','lag','s'],
             ['cpu','CPU','%']];
function showStatus(c,s){
  c.figs.replaceChildren(); c.err.textContent='';
  if(!s){ c.dot.className='dot'; return; }
  FIGURES.forEach(function(f){ if(own(s,f[0])&&s[f[0]]!==null) row(c.figs,f[1],num(s[f[0]],f[2])); });
  var on=s.connected; c.dot.className='dot'+(on===true?' on':on===false?' off':'');
  c.dot.title=on===true?'connected':on===false?'not connected':'';
  if(on===true||on===false) row(c.figs,'connected',on?'yes':'no');
  if(s.last_error) c.err.textContent=String(s.last_error);
}
function showCounts(c,counts){
  c.counts.replaceChildren(); if(!isObj(counts)) return;
  Object.keys(counts).forEach(function(group){
    var g=counts[group], kind={zones:'zone ',lines:'line '}[group];
    if(kind&&isObj(g)) Object.keys(g).forEach(function(n){ row(c.counts,kind+n,num(g[n])); });
    else row(c.counts,group,num(g));
  });
}

var list=document.getElementById('events'), none=document.getElementById('noevents'), rows=new Map(), after=0,
    player=document.getElementById('player'), caption=document.getElementById('caption');
function when(iso){ var d=new Date(iso); return iso&&!isNaN(d)?d.toLocaleTimeString():String(iso||''); }
function describe(ev){
  var p=[];
  if(ev.rule) p.push('rule '+ev.rule);
  if(ev['class']!==undefined&&ev['class']!==null) p.push(String(ev['class']));
  if(ev.track_id!==undefined&&ev.track_id!==null) p.push('#'+ev.track_id);
  if(ev.zone) p.push('zone '+ev.zone);
  if(ev.line) p.push('line '+ev.line);
  if(ev.direction) p.push(String(ev.direction));
  if(typeof ev.score==='number') p.push('score '+ev.score.toFixed(2));
  return p.join(' \u00b7 ');
}
function fill(li,ev){
  li.replaceChildren();
  var snap=fileUrl(ev.snapshot);
  if(snap){ var img=el('img','snap'); img.alt='snapshot'; img.src=snap; li.appendChild(img); }
  var box=el('div'), head=el('div');
  head.appendChild(el('span','kind',ev.kind||'event')); head.appendChild(el('span','source',ev.camera||''));
  box.appendChild(head); box.appendChild(el('div','what',describe(ev)));
  var span=ev.state==='start'?' (ongoing)':ev.state==='end'&&ev.end?' \u2013 '+when(ev.end):'';
  box.appendChild(el('div','when',when(ev.start)+span));
  li.appendChild(box);
}
function addEvent(ev){
  if(!isObj(ev)) return;
  var id=ev.id===undefined||ev.id===null?null:String(ev.id), li=id===null?null:rows.get(id);
  if(li){ li.record=Object.assign({},li.record,ev); fill(li,li.record); return; }
  li=el('li','event'); li.record=ev;
  if(id!==null){ li.dataset.id=id; rows.set(id,li); }
  li.addEventListener('click',function(){ play(li); });
  fill(li,ev); list.insertBefore(li,list.firstChild); none.hidden=true;
  while(list.children.length>MAX_EVENTS){ var old=list.lastChild; rows.delete(old.dataset.id); list.removeChild(old); }
}
function play(li){
  var ev=li.record, src=fileUrl(ev.clip);
  list.querySelectorAll('.now').forEach(function(x){ x.classList.remove('now'); }); li.classList.add('now');
  caption.textContent=[ev.camera,ev.kind,when(ev.start)].filter(Boolean).join(' \u00b7 ')+(src?'':' \u00b7 no clip');
  if(!src){ player.removeAttribute('src'); player.classList.remove('on'); return; }
  player.classList.add('on'); player.src=src;
  var p=player.play(); if(p&&p.catch) p.catch(function(){});
}
player.addEventListener('error',function(){
  if(player.getAttribute('src')) caption.textContent+=' \u00b7 the clip is not written yet (it is, a few seconds '+
    'after the event ends): click again soon';
});

var conn=document.getElementById('conn');
function tick(){
  getJSON('/api/cameras').then(function(names){
    names.forEach(camera); return getJSON('/api/status');
  }).then(function(doc){
    cams.forEach(function(c,name){ showStatus(c,cameraStatus(doc,name)); }); return getJSON('/api/counts');
  }).then(function(counts){
    cams.forEach(function(c,name){ showCounts(c,own(counts,name)?counts[name]:null); });
    return getJSON('/api/events',{after:after});
  }).then(function(r){
    if(r.last<after){ list.replaceChildren(); rows.clear(); after=0; return; }   // the server restarted
    r.events.forEach(function(x){ addEvent(x.event); }); after=r.last;
    cams.forEach(function(c){ if(!c.stream) c.img.src=url('/frame/'+c.path+'.jpg',{t:Date.now()}); });
    conn.textContent='';
  }).catch(function(e){
    conn.textContent='connection lost ('+e.message+'), retrying';
  }).then(function(){ setTimeout(tick,1000); });
}
tick();
})();
